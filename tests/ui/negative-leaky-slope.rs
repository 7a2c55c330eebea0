use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target y: classes[2];
        h = leaky_relu(dense(x, 3), -0.1);
        z = dense(h, 2);
        output z;
        loss cross_entropy(softmax(z), y);
    }
}

fn main() {}
