use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target t: [4];
        recon = dense(relu(dense(x, 2)), 4);
        output recon;
        loss bce(recon, t) + bce_with_logits(sigmoid(recon), t);
    }
}

fn main() {}
