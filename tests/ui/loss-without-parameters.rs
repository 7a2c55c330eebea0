use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target t: [4];
        z = dense(x, 4);
        output z;
        loss mse(x, t);
    }
}

fn main() {}
