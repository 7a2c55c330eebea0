use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target t: [4];
        param w: [4, 4] = normal(0.0, 1.0);
        output x @ w;
        loss mse(x @ w, t);
    }
}

fn main() {}
