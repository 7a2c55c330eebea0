use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target y: classes[2];
        h = mish(dense(x, 3));
        output h;
        loss cross_entropy(softmax(dense(h, 2)), y);
    }
}

fn main() {}
