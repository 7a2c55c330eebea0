use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target y: classes[10];
        z = dense(x, 3);
        output z;
        loss cross_entropy(softmax(z), y);
    }
}

fn main() {}
