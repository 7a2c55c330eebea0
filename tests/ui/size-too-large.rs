use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target t: [4];
        param a: [65536, 1];
        param b: [1, 65536];
        param c: [65536, 65536, 65536, 65536];
        output x * 2;
        loss mse(x, t) + sum(a @ b) + sum(c);
    }
}

fn main() {}

network! {
    struct Wide {
        input x: [100000000];
        target y: classes[2];
        h = relu(dense(x, 100000000));
        z = dense(h, 99999999999999999999);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}
