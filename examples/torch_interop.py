"""PyTorch's side of `cargo run --release --example torch_interop` (see that file).

Needs `pip install torch safetensors`; run from the repository root after the Rust example:

    cargo run --release --example torch_interop
    python3 examples/torch_interop.py
    cargo run --release --example torch_interop -- --import

1. Loads the network symgrad trained into `nn.Sequential(Linear(64, 32), ReLU(), Linear(32, 10))`
   with `load_state_dict` and compares its logits on the test digits with symgrad's.
2. Trains a network of the same shape in PyTorch (on the same test digits: only the weights'
   round trip matters here) and saves its `state_dict` and logits for `--import`.
"""

import torch
from safetensors.torch import load_file, save_file

DIR = "torch_interop"


def network():
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def main():
    data = load_file(f"{DIR}/digits_test.safetensors")
    features, labels, theirs = data["features"], data["labels"][:, 0].long(), data["logits"]

    model = network()
    model.load_state_dict(load_file(f"{DIR}/mlp.safetensors"))
    with torch.no_grad():
        logits = model(features)
        exact = model.double()(features.double())
    diff = (logits - theirs).abs().max().item()
    rounding = (exact - theirs.double()).abs().max().item()
    same = (logits.argmax(1) == theirs.argmax(1)).float().mean().item()
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    print(
        f"symgrad's network in PyTorch: logits agree to {diff:.2e} (largest {theirs.abs().max().item():.2f}; "
        f"symgrad's f32 logits against PyTorch's float64 ones: {rounding:.2e}); "
        f"same prediction on {same:.2%} of {len(labels)} test digits; accuracy {accuracy:.4f}"
    )

    torch.manual_seed(0)
    trained = network()
    optimiser = torch.optim.Adam(trained.parameters(), lr=1e-2)
    for _ in range(200):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(trained(features), labels).backward()
        optimiser.step()
    with torch.no_grad():
        logits = trained(features)
    save_file({k: v.contiguous() for k, v in trained.state_dict().items()}, f"{DIR}/torch_mlp.safetensors")
    save_file({"logits": logits.contiguous()}, f"{DIR}/torch_logits.safetensors")
    print(f"wrote {DIR}/torch_mlp.safetensors and {DIR}/torch_logits.safetensors; "
          "next: cargo run --release --example torch_interop -- --import")


if __name__ == "__main__":
    main()
