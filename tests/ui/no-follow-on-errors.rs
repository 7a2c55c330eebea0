//! One mistake in the definition, one error: the code using the network adds none.
use symgrad::network;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};

network! {
    pub struct Net {
        input x: [4];
        target y: classes[2];
        h = relu(dense(x, 3));
        z = dense(h, 2) + undefined;
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

fn main() {
    let mut rng = StdRng::seed_from_u64(0);
    let net = Net::<f32>::new(&mut rng);
    let mut grads = Net::<f32>::zeros();
    let mut ws = net.workspace(8);
    let x = symgrad::ndarray::Array2::<f32>::zeros((8, 4));
    let labels = [0usize; 8];
    let batch = NetBatch { x: x.view(), y: &labels };
    let loss: f32 = net.loss_and_grad(&mut ws, &batch, &mut rng, &mut grads).unwrap();
    let _ = net.forward(&mut ws, &NetInputs { x: x.view() }).unwrap();
    let mut hws = net.hvp_workspace(8);
    let _ = net.hvp(&mut hws, &batch, &mut rng, &grads, &mut grads.clone()).unwrap();
    println!("{loss} {}", Net::<f32>::derivation());
    let data = symgrad::data::Dataset::new(x, labels.to_vec(), 2).unwrap();
    let mut model = net.clone();
    let _ = symgrad::train::fit(&mut model, &data, &data, &symgrad::train::TrainConfig::default());
    let _ = model.count();
}
