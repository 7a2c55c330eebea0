use symgrad::network;

network! {
    struct Net {
        input x: [-4];
        target t: [4];
        output x;
        loss mse(x, t);
    }
}

fn main() {}
