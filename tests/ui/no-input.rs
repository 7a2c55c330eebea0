use symgrad::network;

network! {
    struct Net {
        target t: [3];
        z = dense(t, 3);
        output z;
        loss mse(z, t);
    }
}

fn main() {}
