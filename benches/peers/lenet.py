"""The LeNet step of `benches/lenet.rs` (1×28×28 → conv 16 5×5 same → ReLU → max pool 2 → conv
32 5×5 same → ReLU → max pool 2 → 128 ReLU → 10, softmax cross-entropy, batch 64, f32, one
plain SGD step) beside PyTorch eager and JAX `jit` on the same inputs and labels, run
interleaved as ours, JAX, PyTorch, ours, each pinned to the same cores; prints the table with
ratios. Needs `pip install jax jaxlib torch`; run from the repository root:

    python3 benches/peers/lenet.py              # one thread each, pinned to core 0
    python3 benches/peers/lenet.py --threads 2  # two each (ours with the `threading` feature)
"""

import argparse
import os
import re
import subprocess
import sys
from datetime import date

BATCH = 64
TORCH = r'''
import torch
from timing import THREADS, median_us
torch.set_num_threads(THREADS)
torch.manual_seed(0)
i = torch.arange(64)[:, None]
j = torch.arange(784)[None, :]
x = (((i * 13 + j * 7) % 17).float() / 17.0).reshape(64, 1, 28, 28)
y = torch.arange(64) % 10
model = torch.nn.Sequential(
    torch.nn.Conv2d(1, 16, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    torch.nn.Conv2d(16, 32, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    torch.nn.Flatten(), torch.nn.Linear(1568, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
def step():
    for p in model.parameters():
        p.grad = None
    torch.nn.functional.cross_entropy(model(x), y).backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 1e-3 * p.grad
print(f"torch {torch.__version__}")
print(median_us(step))
'''
JAX = r'''
import os
from timing import THREADS, median_us
os.environ["XLA_FLAGS"] = (
    f"--xla_cpu_multi_thread_eigen={'true' if THREADS > 1 else 'false'} intra_op_parallelism_threads={THREADS}")
import jax
import jax.numpy as jnp
i = jnp.arange(64)[:, None]
j = jnp.arange(784)[None, :]
x = (((i * 13 + j * 7) % 17).astype(jnp.float32) / 17.0).reshape(64, 1, 28, 28)
y = jnp.arange(64) % 10
keys = jax.random.split(jax.random.PRNGKey(0), 4)
he = lambda key, shape, fan_in: jax.random.normal(key, shape, jnp.float32) * jnp.sqrt(2.0 / fan_in)
params = [
    (he(keys[0], (16, 1, 5, 5), 25), jnp.zeros((16, 1, 1))),
    (he(keys[1], (32, 16, 5, 5), 400), jnp.zeros((32, 1, 1))),
    (he(keys[2], (1568, 128), 1568), jnp.zeros((128,))),
    (he(keys[3], (128, 10), 128), jnp.zeros((10,))),
]
def conv(x, k, b):
    y = jax.lax.conv_general_dilated(x, k, (1, 1), ((2, 2), (2, 2)), dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return jax.nn.relu(y + b)
def pool(x):
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
def loss(params, x, y):
    (k1, b1), (k2, b2), (w3, b3), (w4, b4) = params
    h = pool(conv(pool(conv(x, k1, b1)), k2, b2)).reshape(x.shape[0], -1)
    logits = jax.nn.relu(h @ w3 + b3) @ w4 + b4
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))
step = jax.jit(lambda p, x, y: jax.tree_util.tree_map(lambda w, g: w - 1e-3 * g, p, jax.grad(loss)(p, x, y)))
print(f"jax {jax.__version__}")
print(median_us(lambda: step(params, x, y), jax.block_until_ready))
'''

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=1, help="threads for every contender (default 1)")
THREADS = parser.parse_args().threads
PIN = ["taskset", "-c", ",".join(str(core) for core in range(THREADS))]
FEATURES = ["--features", "threading"] if THREADS > 1 else []
HERE = os.path.dirname(os.path.abspath(__file__))
ENV = dict(os.environ, PEER_THREADS=str(THREADS), PYTHONPATH=HERE)


def run(command):
    print("$", " ".join(command[:8]), "…" if len(command) > 8 else "", file=sys.stderr, flush=True)
    return subprocess.run(command, check=True, capture_output=True, text=True, env=ENV).stdout


def ours():
    """{"generated" | "generated_sgd" | "tape" | "gemm_floor": µs} from criterion's bencher output."""
    out = run(
        PIN
        + ["cargo", "bench", "--quiet", *FEATURES, "--bench", "lenet", "--"]
        + ["--warm-up-time", "1", "--measurement-time", "5", "--output-format", "bencher"]
    )
    figures = {}
    for line in out.splitlines():
        m = re.match(r"test .+/(\w+)/\d+ \.\.\. bench:\s+([\d,]+) ns/iter", line)
        if m:
            figures[m.group(1)] = int(m.group(2).replace(",", "")) / 1e3
    return figures


def peer(code):
    """The peer's version line and its median µs per step."""
    version, us = run(PIN + [sys.executable, "-c", code]).split("\n")[:2]
    return version, float(us)


def main():
    run(["cargo", "bench", "--quiet", *FEATURES, "--bench", "lenet", "--no-run"])
    first = ours()
    jax_version, jax = peer(JAX)
    torch_version, torch = peer(TORCH)
    second = ours()
    print(f"{date.today()}; {jax_version}; {torch_version}; {THREADS} thread(s) each ({' '.join(PIN)}), f32, µs")
    print()
    print("| LeNet step, batch 64 | ours (two runs) | JAX jit | PyTorch | JAX / ours | PyTorch / ours |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in ["generated_sgd", "generated", "tape", "gemm_floor"]:
        runs = [first[kind], second[kind]]
        worst, best = max(runs), min(runs)
        print(
            f"| {kind} | {runs[0]:,.0f}, {runs[1]:,.0f} | {jax:,.0f} | {torch:,.0f} "
            f"| {jax / worst:.2f}–{jax / best:.2f} | {torch / worst:.2f}–{torch / best:.2f} |"
        )


if __name__ == "__main__":
    main()
