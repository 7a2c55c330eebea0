"""One command for the peer table of `benches/README.md`: our training step
(`cargo bench --bench step`: `sgd_step`, the gradient followed by `Optim::step`, and the gemm
floor), JAX `jit` (`hvp_jax.py`) and PyTorch
eager (`step_torch.py`) on the same networks, batch sizes, inputs and step (forward, backward,
plain SGD update; f32), each pinned to the same cores, run interleaved as ours, JAX, PyTorch, ours;
prints the table with ratios, and a second one for the Hessian-vector product (ours against
`jax.jvp` of `jax.grad`). Needs `pip install jax jaxlib torch`; run from the repository root:

    python3 benches/peers/compare.py              # one thread each, pinned to core 0
    python3 benches/peers/compare.py --threads 2  # two each, on cores 0 and 1 (ours with the
                                                  # `threading` feature)
"""

import argparse
import os
import re
import subprocess
import sys
from datetime import date

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=1, help="threads for every contender (default 1)")
THREADS = parser.parse_args().threads
PIN = ["taskset", "-c", ",".join(str(core) for core in range(THREADS))]
# Ours: the `threading` feature splits large products over the pinned cores.
FEATURES = ["--features", "threading"] if THREADS > 1 else []
ENV = dict(os.environ, PEER_THREADS=str(THREADS))


def run(command):
    print("$", " ".join(command), file=sys.stderr, flush=True)
    return subprocess.run(command, check=True, capture_output=True, text=True, env=ENV).stdout


def ours():
    """{(network, batch): {"generated" | "generated_sgd" | "gemm_floor" | "hvp": µs}} from criterion's
    bencher output."""
    out = run(
        PIN
        + ["cargo", "bench", "--quiet", *FEATURES, "--bench", "step", "--"]
        + ["--warm-up-time", "1", "--measurement-time", "3"]
        + ["--output-format", "bencher", "/(generated|generated_sgd|gemm_floor|hvp)/"]
    )
    figures = {}
    for line in out.splitlines():
        m = re.match(r"test (.+)/(generated|generated_sgd|gemm_floor|hvp)/(\d+) \.\.\. bench:\s+([\d,]+) ns/iter", line)
        if m:
            network, kind, batch, ns = m.groups()
            figures.setdefault((network.split(",")[0], int(batch)), {})[kind] = int(ns.replace(",", "")) / 1e3
    return figures


def peer(script):
    """{(network, batch): [µs, ...]} from a peer script's table (its columns of figures)."""
    out = run(PIN + [sys.executable, script])
    figures = {}
    for line in out.splitlines()[2:]:
        m = re.match(r"(.+) \((\d+)\)((?:\s+[\d.]+)+)$", line)
        if m:
            figures[(m.group(1).strip(), int(m.group(2)))] = [float(v) for v in m.group(3).split()]
    return out.splitlines()[0], figures


def main():
    run(["cargo", "bench", "--quiet", *FEATURES, "--bench", "step", "--no-run"])
    first = ours()
    jax_version, jax = peer("benches/peers/hvp_jax.py")
    torch_version, torch = peer("benches/peers/step_torch.py")
    second = ours()
    print(f"{date.today()}; {jax_version.split(',')[0]}; {torch_version.split(',')[0]}; {THREADS} thread(s) each ({' '.join(PIN)}), f32, µs")
    print()
    print(
        "| network (batch) | ours, `sgd_step` (two runs) | ours, gradient + `Optim::step` | JAX jit | PyTorch "
        "| gemm floor, ours | JAX / ours | PyTorch / ours |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    # Only what both of our runs measured.
    keys = [key for key in first if "generated_sgd" in first[key] and "generated_sgd" in second.get(key, {})]
    for key in keys:
        network, batch = key
        runs = [first[key]["generated_sgd"], second[key]["generated_sgd"]]
        separate = [first[key]["generated"], second[key]["generated"]]
        floor = min(first[key]["gemm_floor"], second[key]["gemm_floor"])
        j, t = match(jax, key)[0], match(torch, key)[0]
        worst, best = max(runs), min(runs)
        print(
            f"| {network} ({batch}) | {runs[0]:,.1f}, {runs[1]:,.1f} | {separate[0]:,.1f}, {separate[1]:,.1f} "
            f"| {j:,.1f} | {t:,.1f} | {floor:,.1f} | {j / worst:.2f}–{j / best:.2f} | {t / worst:.1f}–{t / best:.1f} |"
        )
    print()
    print("| network (batch) | hvp, ours (two runs) | hvp, JAX | JAX / ours |")
    print("|---|---:|---:|---:|")
    for key in keys:
        network, batch = key
        runs = [first[key]["hvp"], second[key]["hvp"]]
        j = match(jax, key)[1]
        print(f"| {network} ({batch}) | {runs[0]:,.1f}, {runs[1]:,.1f} | {j:,.1f} | {j / max(runs):.2f}–{j / min(runs):.2f} |")


def match(peer_figures, key):
    """A peer's figures for our (network, batch); ours may carry a description after the widths."""
    network, batch = key
    nan = [float("nan")] * 2
    return next((v for (n, b), v in peer_figures.items() if b == batch and network.startswith(n)), nan)


if __name__ == "__main__":
    main()
