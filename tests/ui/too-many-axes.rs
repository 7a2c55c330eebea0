use symgrad::network;

network! {
    struct Net {
        input x: [2, 2, 2, 2, 2, 2, 2];
        target t: [2];
        param w: [2, 2];
        out = x @ w;
        output out;
        loss mse(out, t);
    }
}

fn main() {}
