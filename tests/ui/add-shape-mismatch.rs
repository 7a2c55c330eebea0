use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target t: [3];
        a = dense(x, 5);
        b = dense(x, 3);
        out = a + b;
        output out;
        loss mse(out, t);
    }
}

fn main() {}
