use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target y: classes[2];
        h = dropout(relu(dense(x, 8)), 1.5);
        z = dense(h, 2);
        output z;
        loss cross_entropy(softmax(z), y);
    }
}

fn main() {}
