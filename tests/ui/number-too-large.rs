use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target y: classes[2];
        z = 1e400 * dense(x, 2);
        output z;
        loss cross_entropy(softmax(z), y);
    }
}

fn main() {}
