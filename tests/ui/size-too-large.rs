use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target t: [4];
        param a: [4294967296, 1];
        param b: [1, 4294967296];
        param c: [65536, 65536, 65536, 65536];
        output x * 2;
        loss mse(x, t) + sum(a @ b) + sum(c);
    }
}

fn main() {}
