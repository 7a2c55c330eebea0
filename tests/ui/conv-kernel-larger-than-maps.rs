use symgrad::network;

network! {
    struct Net {
        input x: [1, 4, 4];
        target y: classes[2];
        c = conv2d(x, 8, 5);
        d = conv2d(x, 8, 3, dilation = 2);
        z = dense(flatten(c), 2) + dense(flatten(d), 2);
        output z;
        loss softmax_cross_entropy(z, y);
    }
}

fn main() {}
