use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target y: classes[2];
        param h_w: [4, 3];
        h = relu(dense(x, 3) + x @ h_w);
        z = dense(h, 2);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

fn main() {}
