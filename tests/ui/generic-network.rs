use symgrad::network;

network! {
    pub struct Net<T> {
        input x: [4];
        target t: [4];
        output x;
        loss mse(x, t);
    }
}

fn main() {}
