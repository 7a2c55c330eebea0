use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target y: classes[2];
        param w: [2, 2];
        z = dense(x, 2);
        output z @ w;
        loss cross_entropy(softmax(z), y);
    }
}

fn main() {}
