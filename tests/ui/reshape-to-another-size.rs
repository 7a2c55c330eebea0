use symgrad::network;

network! {
    struct Net {
        input x: [16];
        target t: [2, 3, 3];
        h = reshape(dense(x, 16), 2, 3, 3);
        output h;
        loss mse(h, t);
    }
}

fn main() {}
