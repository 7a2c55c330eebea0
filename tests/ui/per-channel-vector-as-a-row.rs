use symgrad::network;

network! {
    struct Net {
        input x: [3, 4, 4];
        target t: [3, 4, 4];
        param b: [3];
        out = tanh(x + b);
        output out;
        loss mse(out, t);
    }
}

fn main() {}
