use symgrad::network;

network! {
    struct Net {
        input x: [1, 8, 8];
        input v: [64];
        target t: [64];
        param k: [8, 3, 3, 3];
        param w: [8, 1, 3];
        param k1: [8, 1, 3, 3];
        a = conv2d(x, k, padding = same);
        b = conv2d(x, w);
        c = conv2d(v, 4, 3);
        d = conv2d(x, k1, init = he);
        e = conv2d(x, 16);
        output a;
        loss mse(flatten(a) @ transpose(flatten(a)), t);
    }
}

fn main() {}
