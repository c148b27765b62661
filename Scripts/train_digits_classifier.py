#!/usr/bin/env python3
"""Train dode's small MLP classifier of the 8x8 UCI digits (feature net for a Fréchet distance).

    python Scripts/train_digits_classifier.py [--steps 3000] [--out Models/digits_classifier]
                                              [--seed 0] [--data Data/digits_8x8_uint8.safetensors]

x(64) -> Linear(64,256) -> ReLU -> Linear(256,128) -> ReLU -> Linear(128,64) -> ReLU ["feat",
the 64-D features] -> Linear(64,10) logits. Cross-entropy, AdamW, augmentation (random +-1 pixel
shifts, random contrast/brightness, Gaussian input noise sigma ~ U[0, 0.3]) so the features are
robust to sampler artefacts. 20% of the digits (seeded split) are held out for the test accuracy.

Runs on CPU with 2 threads. Writes weights.safetensors, config.json (a dode.mlp graph with
"kind": "classifier" and "features": "feat"), fixture.safetensors (inputs and PyTorch outputs for
parity tests) and README.md into --out. The config also records the Fréchet "floor": the Fréchet
distance between the features of two random halves of the real digits (mean over 5 splits).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _venv  # noqa: E402
from _export import config_text, frechet  # noqa: E402

_venv.ensure(["torch", "safetensors", "numpy", "scipy"])

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shlex  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / "Data" / "digits_8x8_uint8.safetensors"
DEFAULT_OUT = REPO / "Models" / "digits_classifier"

DIM = 64
CLASSES = 10
CREDIT = ("E. Alpaydin and C. Kaynak, Optical Recognition of Handwritten Digits, "
          "UCI Machine Learning Repository")
FLOOR_SPLITS = 5


# ----------------------------------------------------------------------------- model

class DigitsClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(DIM, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 64)
        self.head = nn.Linear(64, CLASSES)

    def features(self, x):
        h = F.relu(self.fc1(x))
        h = F.relu(self.fc2(h))
        return F.relu(self.fc3(h))

    def forward(self, x):
        return self.head(self.features(x))


GRAPH = [
    {"op": "linear", "in": "x", "out": "h1", "weight": "fc1.weight", "bias": "fc1.bias"},
    {"op": "relu", "in": "h1", "out": "h1"},
    {"op": "linear", "in": "h1", "out": "h2", "weight": "fc2.weight", "bias": "fc2.bias"},
    {"op": "relu", "in": "h2", "out": "h2"},
    {"op": "linear", "in": "h2", "out": "feat", "weight": "fc3.weight", "bias": "fc3.bias"},
    {"op": "relu", "in": "feat", "out": "feat"},
    {"op": "linear", "in": "feat", "out": "out", "weight": "head.weight", "bias": "head.bias"},
]


def run_graph(cfg, weights, x):
    """Interpret config.json's graph on exported weights (float64) to check the export."""
    w = {k: v.double() for k, v in weights.items()}
    reg = {"x": x.double()}
    for op in cfg["graph"]:
        if op["op"] == "linear":
            reg[op["out"]] = reg[op["in"]] @ w[op["weight"]].T + w[op["bias"]]
        elif op["op"] == "relu":
            reg[op["out"]] = F.relu(reg[op["in"]])
        else:
            raise ValueError(op["op"])
    return reg[cfg["features"]], reg["out"]


# ----------------------------------------------------------------------------- data

def load_digits(path):
    t = load_file(str(path))
    images, labels = t["images"], t["labels"]
    assert images.shape == (1797, 64) and images.dtype == torch.uint8, images.shape
    assert labels.shape == (1797,), labels.shape
    return images.double() / 8.0 - 1.0, labels.long()


def shift(x, dy, dx):
    """Shift each 8x8 image (rows of x, [B, 64]) by (dy, dx) in {-1, 0, 1}: pad with the
    background value -1, crop 8x8. dy > 0 moves the digit down, dx > 0 to the right."""
    b = x.shape[0]
    pad = F.pad(x.view(b, 8, 8), (1, 1, 1, 1), value=-1.0)
    ar = torch.arange(8)
    rows = (1 - dy)[:, None] + ar[None, :]                  # [B, 8]
    cols = (1 - dx)[:, None] + ar[None, :]
    out = pad[torch.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out.reshape(b, 64)


def augment(x, gen, noise_max, p_shift, p_contrast):
    """Random +-1 pixel shifts, random contrast/brightness, Gaussian noise sigma ~ U[0, noise_max]."""
    b = x.shape[0]
    moved = torch.rand(b, generator=gen) < p_shift
    dy = torch.randint(-1, 2, (b,), generator=gen) * moved
    dx = torch.randint(-1, 2, (b,), generator=gen) * moved
    x = shift(x, dy, dx)
    # Contrast around the image mean (c in [0.6, 1.4]) plus a brightness offset in [-0.1, 0.1];
    # no clipping, samplers produce out-of-range values too.
    on = (torch.rand(b, 1, generator=gen) < p_contrast).to(x.dtype)
    c = 0.6 + 0.8 * torch.rand(b, 1, generator=gen, dtype=x.dtype)
    off = 0.2 * torch.rand(b, 1, generator=gen, dtype=x.dtype) - 0.1
    m = x.mean(dim=1, keepdim=True)
    x = on * (m + c * (x - m) + off) + (1 - on) * x
    sigma = noise_max * torch.rand(b, 1, generator=gen, dtype=x.dtype)
    return x + sigma * torch.randn(x.shape, generator=gen, dtype=x.dtype)


# ----------------------------------------------------------------------------- training

def train(args, xtr, ytr):
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = DigitsClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    warm = min(200, args.steps // 10)

    def lr_at(step):  # linear warm-up, then cosine decay to 1% of the peak
        if step < warm:
            return (step + 1) / warm
        p = (step - warm) / max(1, args.steps - warm)
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * p))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    xtr32 = xtr.float()
    n = xtr32.shape[0]
    start = time.time()
    recent, log = [], []
    for step in range(args.steps):
        idx = torch.randint(0, n, (args.batch,), generator=gen)
        x = augment(xtr32[idx], gen, args.noise_max, args.p_shift, args.p_contrast)
        loss = F.cross_entropy(model(x), ytr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        recent.append(loss.item())
        if len(recent) > 500:
            recent.pop(0)
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            avg = sum(recent) / len(recent)
            el = time.time() - start
            log.append({"step": step + 1, "loss": round(avg, 5), "seconds": round(el, 1)})
            print(f"step {step + 1:6d}  loss(avg last {len(recent)}) {avg:.5f}  "
                  f"lr {sched.get_last_lr()[0]:.2e}  {el:6.1f}s", flush=True)
    return model, sum(recent) / len(recent), time.time() - start, log


@torch.no_grad()
def accuracy(model, x, y):
    return (model(x.float()).argmax(dim=1) == y).double().mean().item()


# ----------------------------------------------------------------------------- Fréchet distance

def frechet_scipy(f1, f2):
    """Textbook version (scipy.linalg.sqrtm of S1 S2), used only as a cross-check."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    with warnings.catch_warnings():  # dead ReLU units make S1 S2 singular; that is expected
        warnings.simplefilter("ignore")
        cs = scipy.linalg.sqrtm(s1 @ s2)
    if np.iscomplexobj(cs):
        cs = cs.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * cs))


@torch.no_grad()
def features64(model64, x):
    return model64.features(x.double()).numpy()


# ----------------------------------------------------------------------------- export

def make_fixture(model, model64, x_test, y_test, seed):
    """16 inputs: 8 clean held-out digits (classes 0..7), 5 noisy or shifted digits, 3 pure
    noise inputs N(0,1) clipped to [-1, 1]. Outputs from the float32 model (and float64)."""
    g = torch.Generator().manual_seed(seed + 777)
    clean = []
    for c in range(8):
        clean.append(int((y_test == c).nonzero()[0]))
    others = [int(i) for i in torch.randperm(x_test.shape[0], generator=g)[:5]]
    xs = [x_test[i] for i in clean]
    for k, i in enumerate(others):
        v = x_test[i][None]
        if k == 3:
            v = shift(v, torch.tensor([1]), torch.tensor([-1]))
        sigma = [0.1, 0.2, 0.3, 0.15, 0.5][k]
        xs.append((v + sigma * torch.randn(v.shape, generator=g, dtype=v.dtype))[0])
    for _ in range(3):
        xs.append(torch.randn(DIM, generator=g, dtype=torch.float64).clamp(-1, 1))
    x = torch.stack(xs).float().contiguous()
    with torch.no_grad():
        f32, l32 = model.features(x), model(x)
        f64, l64 = model64.features(x.double()), model64(x.double())
    return {"x": x, "features": f32.contiguous(), "logits": l32.contiguous(),
            "features64": f64.contiguous(), "logits64": l64.contiguous()}


def readme(cfg, command):
    tr, fs = cfg["training"], cfg["feature_stats"]
    return "\n".join([
        "# digits_classifier: an MLP classifier of 8x8 digits, feature net for a Fréchet distance",
        "",
        f"A {tr['parameters']}-parameter MLP classifier of the 8x8 UCI handwritten digits (x = "
        "pixel/8 - 1",
        "in [-1, 1]): x(64) -> Linear(64, 256) -> ReLU -> Linear(256, 128) -> ReLU -> Linear(128, 64)",
        "-> ReLU -> Linear(64, 10) logits. The 64-D activations after the third ReLU (register",
        "`feat`) are the feature space of a Fréchet distance between sets of digits, like FID for",
        "images: fit a Gaussian (mean, covariance) to the features of each set and compute",
        "|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2). dode runs the network natively",
        "with its `dode.mlp` interpreter; no Python is needed at use time.",
        "",
        "`config.json` describes the network as a register-machine graph (format `dode.mlp`,",
        "version 1, `\"kind\": \"classifier\"`): register `x` holds the input [batch, 64], `feat` the",
        "features [batch, 64] (named by `\"features\"`), `out` the logits [batch, 10]. Ops: `linear`",
        "(PyTorch convention y = x W^T + b, W is [out, in]) and `relu`.",
        "",
        "## Training",
        "",
        "```",
        command,
        "```",
        "",
        f"Cross-entropy, AdamW (lr {tr['lr']}, weight decay {tr['weight_decay']}), linear warm-up "
        f"then cosine decay, batch {tr['batch']},",
        f"{tr['steps']} steps, seed {tr['seed']}, CPU with {tr['threads']} thread(s), torch "
        f"{tr['torch']}: {tr['seconds']:.0f} s.",
        *textwrap.wrap("Augmentation, so the features tolerate sampler artefacts: "
                       + tr["augmentation"] + ".", 95),
        f"Trained on {tr['train_size']} digits; {tr['test_size']} (20%, seeded split) are held out.",
        "",
        f"- test accuracy (clean held-out digits): {tr['test_accuracy']:.2%}",
        f"- test accuracy with Gaussian noise sigma = 0.3 added: {tr['test_accuracy_noise0.3']:.2%}",
        f"- train accuracy (clean): {tr['train_accuracy']:.2%}",
        "",
        "## Fréchet reference values",
        "",
        f"- floor: Fréchet distance between the features of two random halves of the 1797 real",
        f"  digits, mean over {FLOOR_SPLITS} seeded splits: **{fs['frechet_floor']:.4f}** "
        f"(std {fs['frechet_floor_std']:.4f}).",
        f"  A sampler whose digits score near this is indistinguishable from the data at this",
        f"  sample size (about 900 per set; the floor grows as the sets shrink).",
        f"- all 1797 real digits vs 1797 pure-noise inputs N(0, 1) clipped to [-1, 1]: "
        f"{fs['frechet_noise']:.2f}.",
        "",
        "## Data credit",
        "",
        "Trained on the UCI \"Optical Recognition of Handwritten Digits\" data (the 1797-image part",
        *textwrap.wrap("shipped with scikit-learn), licence CC BY 4.0. Credit: " + CREDIT + ".",
                       95),
        "",
        "## Files",
        "",
        "- `weights.safetensors`: F32 weights `fc1`, `fc2`, `fc3`, `head` (`.weight` [out, in], "
        "`.bias` [out]).",
        "- `config.json`: format `dode.mlp` v1: the graph, the data credit, the training record and",
        "  the Fréchet reference values (`feature_stats`).",
        "- `fixture.safetensors`: parity data: `x` F32 [16, 64] (8 clean held-out digits of classes",
        "  0..7, 5 noisy digits (sigma 0.1..0.5, one also shifted), 3 pure-noise inputs), `features`",
        "  F32 [16, 64] and `logits` F32 [16, 10] from PyTorch in float32, and `features64`,",
        "  `logits64` (F64) from the same weights run in float64 on the same inputs.",
        "- `README.md`: this file.",
        "",
    ])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-3)
    ap.add_argument("--noise-max", type=float, default=0.3)
    ap.add_argument("--p-shift", type=float, default=0.5)
    ap.add_argument("--p-contrast", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=500)
    args = ap.parse_args()

    t_all = time.time()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    data, labels = load_digits(args.data)
    n = data.shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed + 1))
    n_test = round(0.2 * n)
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    xtr, ytr = data[train_idx], labels[train_idx]
    xte, yte = data[test_idx], labels[test_idx]

    model, final_loss, seconds, log = train(args, xtr, ytr)
    model.eval()
    acc_test = accuracy(model, xte, yte)
    acc_train = accuracy(model, xtr, ytr)
    gn = torch.Generator().manual_seed(args.seed + 4242)
    acc_noisy = accuracy(model, xte + 0.3 * torch.randn(xte.shape, generator=gn,
                                                        dtype=xte.dtype), yte)
    print(f"trained {args.steps} steps in {seconds:.1f}s; final loss {final_loss:.5f}; "
          f"accuracy test {acc_test:.4f} (noisy 0.3: {acc_noisy:.4f}), train {acc_train:.4f}",
          flush=True)

    # Export the weights, then do everything else from the exported (float32) weights.
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    save_file(weights, str(out / "weights.safetensors"),
              metadata={"format": "dode.mlp", "credit": CREDIT, "licence": "CC BY 4.0"})
    saved = load_file(str(out / "weights.safetensors"))
    model32 = DigitsClassifier()
    model32.load_state_dict(saved)
    model32.eval()
    model64 = DigitsClassifier().double()
    model64.load_state_dict({k: v.double() for k, v in saved.items()})
    model64.eval()

    # Fréchet floor: two random halves of all the real digits, FLOOR_SPLITS seeded splits.
    feats = features64(model64, data)
    dead = int((feats.max(axis=0) <= 0).sum())
    gs = torch.Generator().manual_seed(args.seed + 2024)
    floors = []
    for _ in range(FLOOR_SPLITS):
        p = torch.randperm(n, generator=gs).numpy()
        a, b = feats[p[: n // 2]], feats[p[n // 2:]]
        floors.append(frechet(a, b))
        chk = frechet_scipy(a, b)
        assert abs(chk - floors[-1]) < 1e-6 * max(1.0, abs(chk)), (chk, floors[-1])
    floor, floor_std = float(np.mean(floors)), float(np.std(floors, ddof=1))
    # Sanity: real digits vs pure noise inputs, and a few corruptions of the real digits.
    gq = torch.Generator().manual_seed(args.seed + 31337)
    noise_in = torch.randn(n, DIM, generator=gq, dtype=torch.float64).clamp(-1, 1)
    fd_noise = frechet(feats, features64(model64, noise_in))
    assert abs(frechet_scipy(feats, features64(model64, noise_in)) - fd_noise) < 1e-6 * fd_noise
    sanity = {}
    for name, xx in [
        ("noise sigma 0.1", data + 0.1 * torch.randn(data.shape, generator=gq, dtype=data.dtype)),
        ("noise sigma 0.3", data + 0.3 * torch.randn(data.shape, generator=gq, dtype=data.dtype)),
        ("shift +-1 px", shift(data, torch.randint(-1, 2, (n,), generator=gq),
                               torch.randint(-1, 2, (n,), generator=gq))),
        ("contrast x0.7", 0.7 * data),
        ("50/50 blend with another digit",
         0.5 * data + 0.5 * data[torch.randperm(n, generator=gq)]),
    ]:
        # Compare corrupted half A against clean half B so the numbers sit on the floor's scale.
        p = torch.randperm(n, generator=gq).numpy()
        sanity[name] = frechet(features64(model64, xx[p[: n // 2]]), feats[p[n // 2:]])
    print(f"Fréchet floor (two halves of the real digits, {FLOOR_SPLITS} splits): {floor:.4f} "
          f"+- {floor_std:.4f}  {[round(f, 4) for f in floors]}")
    print(f"Fréchet real vs pure noise N(0,1) clipped: {fd_noise:.3f}; dead feature units: {dead}")
    for k, v in sanity.items():
        print(f"  Fréchet corrupted half ({k}) vs clean half: {v:.4f}")

    try:
        rel_out = args.out.resolve().relative_to(REPO)
    except ValueError:
        rel_out = args.out
    command = "python Scripts/train_digits_classifier.py " + " ".join(
        shlex.quote(a) for a in ["--steps", str(args.steps), "--seed", str(args.seed),
                                 "--out", str(rel_out)])
    extra = []
    for name, default in [("batch", 256), ("lr", 2e-3), ("weight_decay", 1e-3),
                          ("noise_max", 0.3), ("p_shift", 0.5), ("p_contrast", 0.5),
                          ("threads", 2)]:
        if getattr(args, name) != default:
            extra += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    if extra:
        command += " " + " ".join(extra)
    augmentation = (f"with probability {args.p_shift} a shift by (dy, dx) uniform in "
                    "{-1, 0, 1}^2 (pad with the background -1, crop 8x8); with probability "
                    f"{args.p_contrast} contrast c ~ U[0.6, 1.4] around the image mean plus a "
                    "brightness offset ~ U[-0.1, 0.1]; then Gaussian noise with sigma ~ "
                    f"U[0, {args.noise_max}] on every sample")
    cfg = {
        "format": "dode.mlp", "version": 1, "dim": DIM, "kind": "classifier",
        "classes": CLASSES, "features": "feat",
        "data": {"name": "UCI digits 8x8", "scaling": "x = pixel/8 - 1", "credit": CREDIT,
                 "licence": "CC BY 4.0"},
        "graph": GRAPH,
        "training": {
            "command": command, "steps": args.steps, "test_accuracy": round(acc_test, 6),
            "seed": args.seed, "seconds": round(seconds, 1), "torch": torch.__version__,
            "train_accuracy": round(acc_train, 6), "test_accuracy_noise0.3": round(acc_noisy, 6),
            "train_size": int(train_idx.numel()), "test_size": int(test_idx.numel()),
            "split": f"torch.randperm(1797, Generator seeded {args.seed + 1}); first "
                     f"{n_test} are the test set",
            "batch": args.batch, "optimizer": "AdamW", "lr": args.lr,
            "weight_decay": args.weight_decay,
            "lr_schedule": f"linear warm-up {min(200, args.steps // 10)} steps, cosine decay to 1%",
            "augmentation": augmentation, "loss": "cross-entropy",
            "final_loss": round(final_loss, 6),
            "parameters": sum(p.numel() for p in model.parameters()),
            "threads": args.threads, "loss_log": log,
        },
        "feature_stats": {
            "frechet_floor": floor, "frechet_floor_std": floor_std,
            "frechet_floor_splits": floors,
            "frechet_floor_note": (f"Fréchet distance (float64, covariance ddof=1) between the "
                                   f"features of two random halves ({n // 2} and {n - n // 2}) "
                                   f"of all {n} real digits, mean and sample std over "
                                   f"{FLOOR_SPLITS} seeded splits"),
            "frechet_noise": fd_noise,
            "frechet_noise_note": (f"all {n} real digits vs {n} inputs N(0, 1) clipped to "
                                   "[-1, 1]"),
            "dead_features": dead,
        },
    }
    (out / "config.json").write_text(config_text(cfg))

    fx = make_fixture(model32, model64, xte, yte, args.seed)
    save_file(fx, str(out / "fixture.safetensors"))
    gf, gl = run_graph(cfg, saved, fx["x"])
    df = (gf - fx["features64"]).abs().max().item()
    dl = (gl - fx["logits64"]).abs().max().item()
    d32 = max((fx["features"].double() - fx["features64"]).abs().max().item(),
              (fx["logits"].double() - fx["logits64"]).abs().max().item())
    print(f"export check: graph(float64) vs PyTorch float64 max abs diff features {df:.2e}, "
          f"logits {dl:.2e}; float32 vs float64 {d32:.2e}; fixture predictions "
          f"{fx['logits'].argmax(1).tolist()}")
    assert df < 1e-10 and dl < 1e-10, (df, dl)

    (out / "README.md").write_text(readme(cfg, command))
    for f in ["weights.safetensors", "config.json", "fixture.safetensors", "README.md"]:
        print(f"  {out / f}: {(out / f).stat().st_size} bytes")
    print(f"wrote {out} in {time.time() - t_all:.1f}s total")


if __name__ == "__main__":
    main()
