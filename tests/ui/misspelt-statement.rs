use symgrad::network;

network! {
    struct Net {
        inptu x: [4];
        target y: classes[2];
        z = dense(x, 2);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

fn main() {}
