use symgrad::network;

network! {
    struct Net {
        input x: [4];
        target y: classes[2];
        p = softmax(dense(x, 2));
        output p;
        loss softmax_cross_entropy(p, y);
    }
}

fn main() {}
