use symgrad::network;

network! {
    enum Net {
        input x: [4];
    }
}

fn main() {}
