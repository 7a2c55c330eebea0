use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target y: classes[2];
        target t: [2];
        z = dense(x, 2);
        output z;
        loss cross_entropy(softmax(z), y);
        loss mse(z, t);
    }
}

fn main() {}
