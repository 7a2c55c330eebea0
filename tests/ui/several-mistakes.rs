use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target y: classes[2];
        h = swish(dense(x, 3));
        g = relu(dense(x, 3)) + dense(x, 5);
        z = dense(k, 2);
        output z;
        loss cross_entropy(softmax(z), y);
    }
}

fn main() {}
