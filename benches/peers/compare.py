"""One command for the peer table of `benches/README.md`: our training step
(`cargo bench --bench step`, generated and its gemm floor), JAX `jit` (`hvp_jax.py`) and PyTorch
eager (`step_torch.py`) on the same networks, batch sizes, inputs and step (forward, backward,
plain SGD update; f32), each pinned to one core, run interleaved as ours, JAX, PyTorch, ours;
prints the table with ratios. Needs `pip install jax jaxlib torch`; run from the repository root:

    python3 benches/peers/compare.py
"""

import re
import subprocess
import sys
from datetime import date

PIN = ["taskset", "-c", "0"]


def run(command):
    print("$", " ".join(command), file=sys.stderr, flush=True)
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def ours():
    """{(network, batch): {"generated": µs, "gemm_floor": µs}} from criterion's bencher output."""
    out = run(
        PIN
        + ["cargo", "bench", "--quiet", "--bench", "step", "--", "--warm-up-time", "1", "--measurement-time", "3"]
        + ["--output-format", "bencher", "/(generated|gemm_floor)/"]
    )
    figures = {}
    for line in out.splitlines():
        m = re.match(r"test (.+)/(generated|gemm_floor)/(\d+) \.\.\. bench:\s+([\d,]+) ns/iter", line)
        if m:
            network, kind, batch, ns = m.groups()
            figures.setdefault((network.split(",")[0], int(batch)), {})[kind] = int(ns.replace(",", "")) / 1e3
    return figures


def peer(script):
    """{(network, batch): µs per step} from a peer script's table (its first column of figures)."""
    out = run(PIN + [sys.executable, script])
    figures = {}
    for line in out.splitlines()[2:]:
        m = re.match(r"(.+) \((\d+)\)\s+([\d.]+)", line)
        if m:
            figures[(m.group(1).strip(), int(m.group(2)))] = float(m.group(3))
    return out.splitlines()[0], figures


def main():
    run(["cargo", "bench", "--quiet", "--bench", "step", "--no-run"])
    first = ours()
    jax_version, jax = peer("benches/peers/hvp_jax.py")
    torch_version, torch = peer("benches/peers/step_torch.py")
    second = ours()
    print(f"{date.today()}; {jax_version.split(',')[0]}; {torch_version.split(',')[0]}; one core (taskset -c 0), f32, µs")
    print("| network (batch) | ours (two runs) | JAX jit | PyTorch | gemm floor, ours | JAX / ours | PyTorch / ours |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key in first:
        network, batch = key
        runs = [first[key]["generated"], second.get(key, first[key])["generated"]]
        floor = min(first[key]["gemm_floor"], second.get(key, first[key])["gemm_floor"])
        # Match the peers' names: ours may carry a description after the widths.
        j = next((v for (n, b), v in jax.items() if b == batch and network.startswith(n)), float("nan"))
        t = next((v for (n, b), v in torch.items() if b == batch and network.startswith(n)), float("nan"))
        worst, best = max(runs), min(runs)
        print(
            f"| {network} ({batch}) | {runs[0]:,.1f}, {runs[1]:,.1f} | {j:,.1f} | {t:,.1f} | {floor:,.1f} "
            f"| {j / worst:.2f}–{j / best:.2f} | {t / worst:.1f}–{t / best:.1f} |"
        )


if __name__ == "__main__":
    main()
