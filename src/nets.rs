//! The main job's networks, one a data set; `benches/step.rs` times their steps too.

use symgrad::network;

network! {
    /// The classifier for the 8×8 digits: two ReLU layers with dropout, softmax cross-entropy.
    pub struct DigitsNet {
        input x: [64];
        target y: classes[10];
        h1 = dropout(relu(dense(x, 256, he)), 0.2);
        h2 = dropout(relu(dense(h1, 128, he)), 0.2);
        z = dense(h2, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    /// The Fashion-MNIST MLP 784-256-128-10.
    pub struct FashionNet {
        input x: [784];
        target y: classes[10];
        h1 = dropout(relu(dense(x, 256, he)), 0.2);
        h2 = dropout(relu(dense(h1, 128, he)), 0.2);
        z = dense(h2, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}
