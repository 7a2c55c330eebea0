use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target t: [4];
        param w: [4, 4];
        out = transpose(x) @ w;
        output out;
        loss mse(out, t);
    }
}

fn main() {}
