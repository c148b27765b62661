#!/usr/bin/env python3
"""Train dode's Fashion-MNIST MLP classifier (the feature net of a Fréchet distance on Fashion).

    python Scripts/train_fashion_classifier.py [--steps 4000] [--seed 0] [--out Models/fashion_classifier]

Input: 32x32 images as Scripts/train_fashion_unet.py makes them (28x28 padded with background,
x = pixel/127.5 - 1), flattened to 1024. Network: Linear(1024, 256) -> ReLU -> Linear(256, 128)
-> ReLU ["feat", the 128-D features] -> Linear(128, 10). Cross-entropy with augmentation (random
shifts of up to 2 pixels, horizontal flips, contrast/brightness jitter, Gaussian noise with sigma
~ U[0, 0.3]) so the features tolerate sampler artefacts. Written as a `dode.mlp` model
(config.json, weights.safetensors, fixture.safetensors, README.md); the config records the test
accuracy and the Fréchet floor (two halves of the 10,000 test images).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _venv  # noqa: E402
from _export import config_text, frechet  # noqa: E402

_venv.ensure(["torch", "safetensors", "numpy"])

import argparse  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from train_fashion_unet import CREDIT, load_fashion  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

GRAPH = [
    {"op": "linear", "in": "x", "out": "h1", "weight": "fc1.weight", "bias": "fc1.bias"},
    {"op": "relu", "in": "h1", "out": "h1"},
    {"op": "linear", "in": "h1", "out": "feat", "weight": "fc2.weight", "bias": "fc2.bias"},
    {"op": "relu", "in": "feat", "out": "feat"},
    {"op": "linear", "in": "feat", "out": "out", "weight": "head.weight", "bias": "head.bias"},
]


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(1024, 256)
        self.fc2 = nn.Linear(256, 128)
        self.head = nn.Linear(128, 10)

    def features(self, x):
        return F.relu(self.fc2(F.relu(self.fc1(x))))

    def forward(self, x):
        return self.head(self.features(x))


def augment(x, gen):
    b = x.shape[0]
    pad = F.pad(x, (2, 2, 2, 2), value=-1.0)
    dy = torch.randint(0, 5, (b,), generator=gen)
    dx = torch.randint(0, 5, (b,), generator=gen)
    ar = torch.arange(32)
    rows = (dy[:, None] + ar[None, :])[:, :, None]
    cols = (dx[:, None] + ar[None, :])[:, None, :]
    x = pad[torch.arange(b)[:, None, None], 0, rows, cols][:, None]
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    c = 0.7 + 0.6 * torch.rand(b, 1, 1, 1, generator=gen)
    off = 0.2 * torch.rand(b, 1, 1, 1, generator=gen) - 0.1
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    x = m + c * (x - m) + off
    sigma = 0.3 * torch.rand(b, 1, 1, 1, generator=gen)
    return (x + sigma * torch.randn(x.shape, generator=gen)).reshape(b, 1024)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "Models" / "fashion_classifier")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    xtr, ytr = load_fashion("train")
    xte, yte = load_fashion("test")
    model = Classifier()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 200) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * s / args.steps))))
    t0 = time.time()
    for step in range(args.steps):
        idx = torch.randint(0, xtr.shape[0], (args.batch,), generator=gen)
        loss = F.cross_entropy(model(augment(xtr[idx], gen)), ytr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 500 == 0:
            print(f"step {step + 1} loss {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
    seconds = time.time() - t0
    model.eval()
    with torch.no_grad():
        flat = xte.reshape(-1, 1024)
        acc = (model(flat).argmax(1) == yte).double().mean().item()
        noisy = flat + 0.3 * torch.randn(flat.shape, generator=gen)
        acc_noise = (model(noisy).argmax(1) == yte).double().mean().item()
        feats = model.features(flat).double().numpy()
    perm = np.random.default_rng(args.seed).permutation(feats.shape[0])
    floor = frechet(feats[perm[:5000]], feats[perm[5000:]])
    noise_fd = frechet(feats, model.features(torch.randn(2000, 1024, generator=gen).clamp(-1, 1))
                       .detach().double().numpy())
    command = f"python Scripts/train_fashion_classifier.py --steps {args.steps} --seed {args.seed}"
    cfg = {
        "format": "dode.mlp", "version": 1, "dim": 1024, "kind": "classifier", "classes": 10, "features": "feat",
        "data": {"name": "Fashion-MNIST", "scaling": "28x28 padded to 32x32 with background, x = pixel/127.5 - 1",
                 "credit": CREDIT},
        "graph": GRAPH,
        "training": {"command": command, "steps": args.steps, "batch": args.batch, "seed": args.seed,
                     "seconds": round(seconds, 1), "torch": torch.__version__, "test_accuracy": round(acc, 5),
                     "test_accuracy_noise0.3": round(acc_noise, 5)},
        "feature_stats": {"frechet_floor_5000": round(floor, 4), "frechet_noise": round(noise_fd, 2)},
    }
    out = args.out
    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp / "weights.safetensors"))
    x = torch.cat([flat[:6], noisy[:2]]).contiguous()
    with torch.no_grad():
        save_file({"x": x, "features": model.features(x).contiguous(), "logits": model(x).contiguous()},
                  str(tmp / "fixture.safetensors"))
    (tmp / "config.json").write_text(config_text(cfg))
    (tmp / "README.md").write_text(f"""# fashion_classifier: an MLP classifier of Fashion-MNIST, feature net for a \
Fréchet distance

x (1024 = 32x32, padded Fashion-MNIST, x = pixel/127.5 - 1) -> Linear(1024, 256) -> ReLU ->
Linear(256, 128) -> ReLU [`feat`, the 128-D features] -> Linear(128, 10). A `dode.mlp` model:
`dode.features.fashion(x)` returns the features.

- Test accuracy: {acc:.2%} (clean), {acc_noise:.2%} with Gaussian noise sigma 0.3.
- Fréchet floor (two halves of the 10,000 test images): {floor:.3f}; test images vs clipped noise: {noise_fd:.1f}.
- Trained with `{command}` ({seconds:.0f} s, torch {torch.__version__}).
- Data: {CREDIT}.
- `fixture.safetensors`: inputs `x` [8, 1024] and PyTorch `features`, `logits` for parity tests.
""")
    if out.exists():
        for f in out.iterdir():
            f.unlink()
        out.rmdir()
    tmp.rename(out)
    print(f"test accuracy {acc:.4f} (noise 0.3: {acc_noise:.4f}), floor {floor:.3f}, noise FD {noise_fd:.1f}, "
          f"{seconds:.0f}s")


if __name__ == "__main__":
    main()
