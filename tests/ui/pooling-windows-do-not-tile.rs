use symgrad::network;

network! {
    struct Net {
        input x: [1, 7, 7];
        target y: classes[2];
        p = max_pool2d(relu(conv2d(x, 4, 3, padding = same)), 2);
        q = avg_pool2d(x, 8);
        z = dense(flatten(p), 2) + dense(flatten(q), 2);
        output z;
        loss softmax_cross_entropy(z, y);
    }
}

fn main() {}
