"""PyTorch (eager) on the networks of `benches/step.rs`, for comparison with
`cargo bench --bench step`: one training step (forward, loss, backward and a plain SGD update,
as `generated` measures), f32, one thread (or `PEER_THREADS`), the same inputs and labels. Prints median
microseconds per step.

    pip install torch
    taskset -c 0 python3 benches/peers/step_torch.py
"""

import torch
from timing import THREADS, median_us

torch.set_num_threads(THREADS)
torch.manual_seed(0)


def inputs(batch, width, classes):
    """The inputs and labels of `benches/step.rs`."""
    i = torch.arange(batch)[:, None]
    j = torch.arange(width)[None, :]
    x = ((i * 13 + j * 7) % 17).float() / 17.0
    return x, torch.arange(batch) % classes


def network(widths, act, output=None):
    layers = []
    for k, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        linear = torch.nn.Linear(fan_in, fan_out)
        torch.nn.init.xavier_normal_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
        if k < len(widths) - 2:
            layers.append(act())
    if output is not None:
        layers.append(output())
    return torch.nn.Sequential(*layers)


def classifier_loss(model, x, y):
    return torch.nn.functional.cross_entropy(model(x), y)


def autoencoder_loss(model, x, _y):
    return torch.nn.functional.mse_loss(model(x), x)


def step(model, loss, x, y, rate=1e-3):
    for p in model.parameters():
        p.grad = None
    loss(model, x, y).backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= rate * p.grad


NETWORKS = [
    ("2-16-16-2 tanh", [2, 16, 16, 2], 32, torch.nn.Tanh, None, classifier_loss),
    ("64-32-10 relu", [64, 32, 10], 32, torch.nn.ReLU, None, classifier_loss),
    ("784-256-128-10 relu", [784, 256, 128, 10], 64, torch.nn.ReLU, None, classifier_loss),
    ("784-256-128-10 relu", [784, 256, 128, 10], 256, torch.nn.ReLU, None, classifier_loss),
    ("784-1024-1024-10 relu", [784, 1024, 1024, 10], 128, torch.nn.ReLU, None, classifier_loss),
    ("autoencoder 784-256-64-256-784", [784, 256, 64, 256, 784], 64, torch.nn.ReLU, torch.nn.Sigmoid, autoencoder_loss),
]

print(f"torch {torch.__version__}, f32, {THREADS} thread(s): median µs per step")
print(f"{'network (batch)':<40} {'step':>10}")
for name, widths, batch, act, output, loss in NETWORKS:
    x, y = inputs(batch, widths[0], widths[-1])
    model = network(widths, act, output)
    print(f"{name + f' ({batch})':<40} {median_us(lambda: step(model, loss, x, y)):>10.1f}")
