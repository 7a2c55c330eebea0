"""JAX on the networks of `benches/step.rs`, for comparison with `cargo bench --bench step`:
one training step (`jax.grad` and a plain SGD update, as `generated` measures), and the
Hessian-vector product (`jax.jvp` of `jax.grad`, forward over reverse, as `hvp` measures),
`jit`, f32, one thread (or `PEER_THREADS`), the same inputs and labels. Prints median
microseconds per call.

    pip install jax jaxlib
    taskset -c 0 python3 benches/peers/hvp_jax.py
"""

import os

from timing import THREADS, median_us

os.environ["XLA_FLAGS"] = (
    f"--xla_cpu_multi_thread_eigen={'true' if THREADS > 1 else 'false'} intra_op_parallelism_threads={THREADS}"
)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402


def inputs(batch, width, classes):
    """The inputs and labels of `benches/step.rs`."""
    i = jnp.arange(batch)[:, None]
    j = jnp.arange(width)[None, :]
    x = ((i * 13 + j * 7) % 17).astype(jnp.float32) / 17.0
    return x, jnp.arange(batch) % classes


def init(key, widths):
    """Xavier-normal weights and zero biases."""
    params = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        key, sub = jax.random.split(key)
        w = jax.random.normal(sub, (fan_in, fan_out), jnp.float32) * jnp.sqrt(2.0 / (fan_in + fan_out))
        params.append((w, jnp.zeros((fan_out,), jnp.float32)))
    return params


def classifier(act):
    def loss(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = act(h @ w + b)
        w, b = params[-1]
        logits = h @ w + b
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    return loss


def autoencoder(params, x, _y):
    h = x
    for w, b in params[:-1]:
        h = jax.nn.relu(h @ w + b)
    w, b = params[-1]
    return jnp.mean((jax.nn.sigmoid(h @ w + b) - x) ** 2)


NETWORKS = [
    ("2-16-16-2 tanh", [2, 16, 16, 2], 32, classifier(jnp.tanh)),
    ("64-32-10 relu", [64, 32, 10], 32, classifier(jax.nn.relu)),
    ("784-256-128-10 relu", [784, 256, 128, 10], 64, classifier(jax.nn.relu)),
    ("784-256-128-10 relu", [784, 256, 128, 10], 256, classifier(jax.nn.relu)),
    ("784-1024-1024-10 relu", [784, 1024, 1024, 10], 128, classifier(jax.nn.relu)),
    ("autoencoder 784-256-64-256-784", [784, 256, 64, 256, 784], 64, autoencoder),
]

print(f"jax {jax.__version__}, f32, {THREADS} thread(s): median µs per call")
print(f"{'network (batch)':<40} {'step':>10} {'hvp':>10}")
for name, widths, batch, loss in NETWORKS:
    x, y = inputs(batch, widths[0], widths[-1])
    params = init(jax.random.PRNGKey(0), widths)
    v = init(jax.random.PRNGKey(1), widths)
    step = jax.jit(
        lambda p, x, y: jax.tree_util.tree_map(lambda w, g: w - 1e-3 * g, p, jax.grad(loss)(p, x, y))
    )
    hvp = jax.jit(lambda p, t, x, y: jax.jvp(lambda q: jax.grad(loss)(q, x, y), (p,), (t,))[1])
    step_us = median_us(lambda: step(params, x, y), jax.block_until_ready)
    hvp_us = median_us(lambda: hvp(params, v, x, y), jax.block_until_ready)
    print(f"{name + f' ({batch})':<40} {step_us:>10.1f} {hvp_us:>10.1f}")
