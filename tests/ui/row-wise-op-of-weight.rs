use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target t: [4];
        param w: [4, 4];
        out = x @ log_softmax(w);
        total = sum_rows(mean(x @ w));
        output out;
        loss mse(out, t) + mean(total);
    }
}

fn main() {}
