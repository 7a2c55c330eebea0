use symgrad::network;

network! {
    struct Net {
        input x: [4];
        z = dense(x, 2);
        output z;
    }
}

fn main() {}
