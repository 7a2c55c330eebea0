use symgrad::network;

network! {
    struct Net {
        input x: [1, 8, 8];
        target t: [4, 8, 8];
        a = conv2d(x, 4, 4, padding = same);
        b = conv2d(x, 4, 3, strides = 2);
        c = conv2d(x, 4, 3, stride = 0);
        d = max_pool2d(x, 2, stride = 2, stride = 2);
        e = upsample2d(x, 2, padding = 1);
        f = relu(x, slope = 2);
        g = dropout2d(flatten(x), 0.5);
        output a;
        loss mse(a, t);
    }
}

fn main() {}
