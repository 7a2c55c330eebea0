use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target t: [3];
        param w: [5, 3];
        out = x @ w;
        output out;
        loss mse(out, t);
    }
}

fn main() {}
