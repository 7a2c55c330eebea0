use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target y: classes[2];
        z = dense(x, 2);
        loss cross_entropy(softmax(z), y);
    }
}

fn main() {}
