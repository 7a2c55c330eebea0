use symgrad::network;

network! {
    struct Net {
        input x: [4];
        a = dense(x, 3);
        b = dense(x, 3);
        output a;
        loss mse(a, b);
    }
}

fn main() {}
