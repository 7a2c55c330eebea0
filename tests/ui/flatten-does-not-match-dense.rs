use symgrad::network;

network! {
    struct Net {
        input x: [1, 28, 28];
        target y: classes[10];
        param w3: [256, 10];
        c1 = max_pool2d(relu(conv2d(x, 6, 5, padding = 2)), 2);
        c2 = max_pool2d(relu(conv2d(c1, 16, 5)), 2);
        z = flatten(c2) @ w3;
        output z;
        loss softmax_cross_entropy(z, y);
    }
}

fn main() {}
