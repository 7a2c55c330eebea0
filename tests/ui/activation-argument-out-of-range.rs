use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target y: classes[2];
        h = elu(dense(x, 3), -1);
        g = max(dense(x, 3), x);
        z = dense(g, 2) + dense(h, 2);
        output z;
        loss cross_entropy(softmax(z), y);
    }
}

fn main() {}
