use symgrad::network;

network! {
    struct Net {
        input x: [1, 8, 8];
        target t: [4, 8, 8];
        a = conv2d(x, 4, padding = same, 3);
        output a;
        loss mse(a, t);
    }
}

fn main() {}
