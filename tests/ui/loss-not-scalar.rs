use symgrad::network;

network! {
    struct Net {
        input x: [4];
        h = dense(x, 3);
        output h;
        loss h;
    }
}

fn main() {}
