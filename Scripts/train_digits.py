#!/usr/bin/env python3
"""Train dode's small epsilon-prediction MLP denoiser on the 8x8 UCI digits and export it.

    python Scripts/train_digits.py [--steps 20000] [--out Models/digits_mlp] [--seed 0]
                                   [--data ../shared/data/digits_8x8_uint8.safetensors]

Runs on CPU with 2 threads. Writes weights.safetensors, config.json (a dode.mlp graph),
fixture.safetensors (inputs and PyTorch outputs for parity tests) and README.md into --out, and
a DDIM-50 sample grid PNG (default /tmp/digits_ddim50.png) for a visual check.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _venv  # noqa: E402
from _export import config_text  # noqa: E402

_venv.ensure(["torch", "safetensors", "numpy"])

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shlex  # noqa: E402
import struct  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "digits_8x8_uint8.safetensors"

DIM = 64
EMB = 128
MAX_PERIOD = 10000
T_STEPS = 1000
BETA_START, BETA_END = 1e-4, 0.02
CREDIT = ("E. Alpaydin and C. Kaynak, Optical Recognition of Handwritten Digits, "
          "UCI Machine Learning Repository")


# ----------------------------------------------------------------------------- schedule

def alphas_cumprod():
    """DDPM linear schedule in float64: betas = linspace(1e-4, 0.02, 1000), abar = cumprod(1-b)."""
    betas = torch.linspace(BETA_START, BETA_END, T_STEPS, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, dim=0)


def abar_at(abar, t):
    """abar at (possibly fractional) labels t, linear interpolation between integer labels."""
    t = t.double().clamp(0, T_STEPS - 1)
    lo = t.floor().long()
    hi = t.ceil().long()
    w = t - lo.double()
    return abar[lo] * (1 - w) + abar[hi] * w


# ----------------------------------------------------------------------------- model

def time_embedding(t, dim=EMB, max_period=MAX_PERIOD):
    """Sinusoidal embedding [cos(t f), sin(t f)], f_k = exp(-ln(max_period) k / (dim/2)).

    Computed in float64 whatever the dtype of t, then returned as float64 (the caller casts)."""
    half = dim // 2
    k = torch.arange(half, dtype=torch.float64)
    freqs = torch.exp(-math.log(max_period) * k / half)
    args = t.double()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1 = nn.Linear(hidden, hidden)
        self.tproj = nn.Linear(hidden, hidden)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, h, temb_act):
        return h + self.fc2(F.silu(self.fc1(F.silu(h)) + self.tproj(temb_act)))


class TimeMLP(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1 = nn.Linear(EMB, hidden)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, emb):
        return self.fc2(F.silu(self.fc1(emb)))


class DigitsMLP(nn.Module):
    def __init__(self, hidden=256, blocks=3):
        super().__init__()
        self.hidden = hidden
        self.time = TimeMLP(hidden)
        self.input = nn.Linear(DIM, hidden)
        self.blocks = nn.ModuleList(ResBlock(hidden) for _ in range(blocks))
        self.output = nn.Linear(hidden, DIM)
        # Residual branches and the output start at zero: the network starts as eps = 0.
        for b in self.blocks:
            nn.init.zeros_(b.fc2.weight)
            nn.init.zeros_(b.fc2.bias)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, x, t):
        dtype = self.input.weight.dtype
        temb = self.time(time_embedding(t).to(dtype))
        h = self.input(x.to(dtype))
        ta = F.silu(temb)
        for b in self.blocks:
            h = b(h, ta)
        return self.output(F.silu(h))


def graph(blocks):
    g = [
        {"op": "time_embedding", "out": "temb", "dim": EMB, "max_period": MAX_PERIOD,
         "order": "cos_sin"},
        {"op": "linear", "in": "temb", "out": "temb", "weight": "time.fc1.weight",
         "bias": "time.fc1.bias"},
        {"op": "silu", "in": "temb", "out": "temb"},
        {"op": "linear", "in": "temb", "out": "temb", "weight": "time.fc2.weight",
         "bias": "time.fc2.bias"},
        {"op": "linear", "in": "x", "out": "h", "weight": "input.weight", "bias": "input.bias"},
        {"op": "silu", "in": "temb", "out": "temb_act"},
    ]
    for i in range(blocks):
        g.append({"op": "resblock", "in": "h", "temb": "temb_act", "out": "h", "act": "silu",
                  "fc1": f"blocks.{i}.fc1", "tproj": f"blocks.{i}.tproj",
                  "fc2": f"blocks.{i}.fc2"})
    g.append({"op": "silu", "in": "h", "out": "h"})
    g.append({"op": "linear", "in": "h", "out": "out", "weight": "output.weight",
              "bias": "output.bias"})
    return g


def run_graph(cfg, weights, x, t):
    """Interpret config.json's graph on exported weights (float64) to check the export."""
    w = {k: v.double() for k, v in weights.items()}
    reg = {"x": x.double(), "t": t.double()}

    def lin(v, prefix_w, prefix_b):
        return v @ w[prefix_w].T + w[prefix_b]

    for op in cfg["graph"]:
        kind = op["op"]
        if kind == "time_embedding":
            reg[op["out"]] = time_embedding(reg["t"], op["dim"], op["max_period"])
        elif kind == "linear":
            reg[op["out"]] = lin(reg[op["in"]], op["weight"], op["bias"])
        elif kind == "silu":
            reg[op["out"]] = F.silu(reg[op["in"]])
        elif kind == "resblock":
            h = reg[op["in"]]
            a = F.silu(lin(F.silu(h), op["fc1"] + ".weight", op["fc1"] + ".bias")
                       + lin(reg[op["temb"]], op["tproj"] + ".weight", op["tproj"] + ".bias"))
            reg[op["out"]] = h + lin(a, op["fc2"] + ".weight", op["fc2"] + ".bias")
        else:
            raise ValueError(kind)
    return reg["out"]


# ----------------------------------------------------------------------------- sampling, PNG

@torch.no_grad()
def ddim_sample(model, abar, noise, n_steps=50):
    """Deterministic DDIM, trailing spacing (999, 979, ..., 19), last step to alpha = 1."""
    ts = [int(round(v)) - 1 for v in np.arange(T_STEPS, 0, -T_STEPS / n_steps)]
    x = noise.double()
    for i, t in enumerate(ts):
        a = abar[t]
        a_next = abar[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0, dtype=torch.float64)
        eps = model(x, torch.full((x.shape[0],), float(t), dtype=torch.float64)).double()
        x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        x = a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
    return x


def write_png(path, pixels):
    """Write a greyscale 8-bit PNG from a 2-D uint8 numpy array."""
    h, w = pixels.shape
    raw = b"".join(b"\x00" + pixels[r].tobytes() for r in range(h))

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9))
           + chunk(b"IEND", b""))
    Path(path).write_bytes(png)


def digit_grid(x, rows=8, cols=8, scale=4, gap=1):
    """x: [rows*cols, 64] in [-1, 1] -> uint8 image, white digits on black, upscaled."""
    img = ((x.clamp(-1, 1) + 1) / 2 * 255).round().to(torch.uint8).numpy().reshape(-1, 8, 8)
    cell = 8 * scale
    out = np.full((rows * (cell + gap) + gap, cols * (cell + gap) + gap), 64, np.uint8)
    for i in range(rows * cols):
        r, c = divmod(i, cols)
        big = np.kron(img[i], np.ones((scale, scale), np.uint8))
        y0, x0 = gap + r * (cell + gap), gap + c * (cell + gap)
        out[y0:y0 + cell, x0:x0 + cell] = big
    return out


# ----------------------------------------------------------------------------- training

def load_digits(path):
    images = load_file(str(path))["images"]
    assert images.shape == (1797, 64) and images.dtype == torch.uint8, images.shape
    return images.double() / 8.0 - 1.0


def train(args, data, abar):
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = DigitsMLP(args.hidden, args.blocks)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay,
                            betas=(0.9, 0.999))
    warm = min(500, args.steps // 10)

    def lr_at(step):  # linear warm-up, then cosine decay to 1% of the peak
        if step < warm:
            return (step + 1) / warm
        p = (step - warm) / max(1, args.steps - warm)
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * p))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    data32 = data.float()
    sab = abar.sqrt().float()
    s1ab = (1 - abar).sqrt().float()
    n = data32.shape[0]
    start = time.time()
    recent = []
    log = []
    for step in range(args.steps):
        idx = torch.randint(0, n, (args.batch,), generator=gen)
        x0 = data32[idx]
        t = torch.randint(0, T_STEPS, (args.batch,), generator=gen)
        eps = torch.randn(x0.shape, generator=gen)
        xt = sab[t, None] * x0 + s1ab[t, None] * eps
        loss = F.mse_loss(model(xt, t.float()), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(decay).add_(pm, alpha=1 - decay)
        recent.append(loss.item())
        if len(recent) > 1000:
            recent.pop(0)
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            avg = sum(recent) / len(recent)
            el = time.time() - start
            log.append({"step": step + 1, "loss": avg, "seconds": round(el, 1)})
            print(f"step {step + 1:6d}  loss(avg last {len(recent)}) {avg:.5f}  "
                  f"lr {sched.get_last_lr()[0]:.2e}  {el:6.1f}s", flush=True)
    seconds = time.time() - start
    return model, ema, sum(recent) / len(recent), seconds, log


@torch.no_grad()
def eval_loss(model, data, abar, seed, repeats=8):
    """Mean eps-MSE over the whole data set, `repeats` noise draws, fixed seed."""
    g = torch.Generator().manual_seed(seed + 12345)
    tot, cnt = 0.0, 0
    for _ in range(repeats):
        t = torch.randint(0, T_STEPS, (data.shape[0],), generator=g)
        eps = torch.randn(data.shape, generator=g, dtype=torch.float64)
        xt = abar[t, None].sqrt() * data + (1 - abar[t, None]).sqrt() * eps
        pred = model(xt.float(), t.float()).double()
        tot += ((pred - eps) ** 2).sum().item()
        cnt += eps.numel()
    return tot / cnt


# ----------------------------------------------------------------------------- export

def make_fixture(model, data, abar, seed):
    g = torch.Generator().manual_seed(seed + 777)
    fixed = [0.0, 999.0, 123.5, 0.5, 998.25, 500.0, 1.0, 250.75, 42.0, 777.125]
    rand = (torch.rand(32 - len(fixed), generator=g, dtype=torch.float64) * 999).tolist()
    t = torch.tensor(fixed + rand, dtype=torch.float64)
    idx = torch.randint(0, data.shape[0], (32,), generator=g)
    eps = torch.randn(32, DIM, generator=g, dtype=torch.float64)
    a = abar_at(abar, t)[:, None]
    x = (a.sqrt() * data[idx] + (1 - a).sqrt() * eps).float()
    t32 = t.float()  # every label above is exactly representable in float32
    with torch.no_grad():
        out32 = model(x, t32)
        m64 = copy.deepcopy(model).double()
        out64 = m64(x.double(), t32.double())
    return {"x": x.contiguous(), "t": t32.contiguous(), "eps": out32.float().contiguous(),
            "eps64": out64.double().contiguous()}


def readme(cfg, command, files):
    tr = cfg["training"]
    lines = [
        "# digits_mlp: a small epsilon-prediction denoiser for 8x8 handwritten digits",
        "",
        f"A residual MLP (hidden width {tr['hidden']}, {tr['blocks']} blocks, "
        f"{tr['parameters']} parameters) trained to predict the noise",
        "eps of x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps on the 1797 UCI digits (8x8 = 64",
        "values, x = pixel/8 - 1 in [-1, 1]) under the DDPM linear schedule (betas =",
        "linspace(1e-4, 0.02, 1000) in float64, abar = cumprod(1 - betas)), with integer time",
        "labels t in 0..999 during training. It is meant for dode's tests, examples and benchmarks:",
        "a real network whose samplers' errors and D-ODE fits can be measured quickly on a CPU.",
        "",
        "`config.json` describes the network as a register-machine graph (format `dode.mlp`,",
        "version 1): register `x` holds the network input [batch, 64], `t` the float time labels",
        "[batch] (fractional labels are allowed), `out` the predicted eps. Ops: `time_embedding`",
        "(cat[cos(t f), sin(t f)], f_k = exp(-ln(10000) k / 64), k = 0..63), `linear`",
        "(PyTorch convention y = x W^T + b, W is [out, in]), `silu`, and `resblock`",
        "(out = in + fc2(silu(fc1(silu(in)) + tproj(temb))), with `temb` already activated).",
        "",
        "## Training",
        "",
        "```",
        command,
        "```",
        "",
    ] + textwrap.wrap(
        f"AdamW (lr {tr['lr']}, weight decay {tr['weight_decay']}), {tr['lr_schedule']}, "
        f"batch {tr['batch']}, EMA of the weights (decay {tr['ema']}; the exported weights are "
        f"the EMA ones), seed {tr['seed']}, CPU with {tr['threads']} threads, torch "
        f"{tr['torch']}: {tr['steps']} steps in {tr['seconds']:.0f} s. "
        + (tr["note"] + " " if tr.get("note") else "")
        + f"Final training loss (mean of the last 1000 batches) {tr['final_loss']:.5f}; "
        f"eps-MSE of the exported EMA weights over the whole data set (8 noise draws, uniform "
        f"t) {tr['eval_loss_ema']:.5f}.", width=96) + [
        "",
        "## Data credit",
        "",
        "Trained on the UCI \"Optical Recognition of Handwritten Digits\" data (the 1797-image part",
        "shipped with scikit-learn), licence CC BY 4.0. Credit: " + CREDIT + ".",
        "",
        "## Files",
        "",
    ]
    desc = {
        "weights.safetensors": "F32 weights, PyTorch Linear convention (`<name>.weight` [out, in], "
                               "`<name>.bias` [out]); names as referenced by the graph.",
        "config.json": "format `dode.mlp` v1: dimensions, prediction type, schedule, data credit, "
                       "the graph and the training record.",
        "fixture.safetensors": "parity data: `x` F32 [32, 64] (noised real digits), `t` F32 [32] "
                               "(labels incl. 0, 0.5, 123.5, 999), `eps` F32 [32, 64] the PyTorch "
                               "float32 output, `eps64` F64 [32, 64] the same weights run in "
                               "float64 on the same (float32) inputs. The time embedding is "
                               "computed in float64 in both and cast to the model dtype.",
        "README.md": "this file.",
    }
    for f in files:
        lines.append(f"- `{f}`: {desc[f]}")
    lines.append("")
    return "\n".join(lines)


def export(args, ema, data, abar, training):
    """Write weights, config, fixture and README into args.out and the sample PNG to args.png."""
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().float().contiguous() for k, v in ema.state_dict().items()}
    save_file(weights, str(out / "weights.safetensors"),
              metadata={"format": "dode.mlp", "credit": CREDIT, "licence": "CC BY 4.0"})
    cfg = {
        "format": "dode.mlp", "version": 1, "dim": DIM, "predicts": "eps",
        "schedule": {"kind": "vp", "betas": "linear", "beta_start": BETA_START,
                     "beta_end": BETA_END, "steps": T_STEPS},
        "data": {"name": "UCI digits 8x8", "scaling": "x = pixel/8 - 1", "credit": CREDIT,
                 "licence": "CC BY 4.0"},
        "graph": graph(len(ema.blocks)),
        "training": training,
    }
    (out / "config.json").write_text(config_text(cfg))

    fx = make_fixture(ema, data, abar, args.seed)
    save_file(fx, str(out / "fixture.safetensors"))
    # Check the export: the graph interpreter on the saved weights must match PyTorch.
    saved = load_file(str(out / "weights.safetensors"))
    g64 = run_graph(cfg, saved, fx["x"], fx["t"])
    ref = fx["eps64"].double()
    d64 = (g64 - ref).abs().max().item() / ref.abs().max().item()
    d32 = (fx["eps"].double() - ref).abs().max().item() / ref.abs().max().item()
    print(f"export check: graph(float64) vs eps64 rel {d64:.2e}; "
          f"eps(float32) vs eps64 rel {d32:.2e}")
    assert d64 < 1e-12, d64

    files = ["weights.safetensors", "config.json", "fixture.safetensors", "README.md"]
    (out / "README.md").write_text(readme(cfg, training["command"], files))

    # Sanity picture: DDIM 50 steps (trailing) from 64 noise samples, float64 copy of the model.
    g = torch.Generator().manual_seed(args.seed + 99)
    noise = torch.randn(64, DIM, generator=g, dtype=torch.float64)
    m64 = copy.deepcopy(ema).double()
    samples = ddim_sample(m64, abar, noise, 50)
    write_png(args.png, digit_grid(samples.float()))
    # Simple quality numbers: mean/std of samples vs data, distance to nearest training digit.
    nn_dist = torch.cdist(samples, data).min(dim=1).values
    nn_data = torch.cdist(data[:64], data).topk(2, largest=False).values[:, 1]
    print(f"samples: mean {samples.mean():.3f} std {samples.std():.3f} "
          f"(data {data.mean():.3f} {data.std():.3f}); out of [-1.05,1.05]: "
          f"{(samples.abs() > 1.05).double().mean():.3%}; nearest-digit distance median "
          f"{nn_dist.median():.3f} (data-to-data {nn_data.median():.3f})")
    print(f"wrote {out} and {args.png}")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--out", type=Path, default=REPO / "Models" / "digits_mlp")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=1000)
    ap.add_argument("--png", type=Path, default=Path("/tmp/digits_ddim50.png"))
    return ap.parse_args(argv)


def command_line(args):
    """The command that reproduces this run (non-default options only, besides the basics)."""
    try:
        rel = args.out.resolve().relative_to(REPO)
    except ValueError:
        rel = args.out
    parts = ["--steps", str(args.steps), "--seed", str(args.seed), "--out", str(rel)]
    for name, default in [("batch", 256), ("lr", 1e-3), ("weight_decay", 1e-4), ("ema", 0.999),
                          ("hidden", 256), ("blocks", 3)]:
        if getattr(args, name) != default:
            parts += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    return "python Scripts/train_digits.py " + " ".join(shlex.quote(a) for a in parts)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    data = load_digits(args.data)
    abar = alphas_cumprod()
    model, ema, final_loss, seconds, log = train(args, data, abar)
    ema.eval()
    ev_ema = eval_loss(ema, data, abar, args.seed)
    ev_raw = eval_loss(model, data, abar, args.seed)
    print(f"trained {args.steps} steps in {seconds:.1f}s; final loss {final_loss:.5f}; "
          f"eval eps-MSE ema {ev_ema:.5f}, raw {ev_raw:.5f}", flush=True)
    training = {
        "command": command_line(args), "steps": args.steps, "batch": args.batch,
        "seed": args.seed, "optimizer": "AdamW", "lr": args.lr,
        "weight_decay": args.weight_decay,
        "lr_schedule": f"linear warm-up {min(500, args.steps // 10)} steps, cosine decay to 1%",
        "ema": args.ema, "exported": "ema", "hidden": args.hidden, "blocks": args.blocks,
        "parameters": sum(p.numel() for p in ema.parameters()),
        "final_loss": final_loss, "eval_loss_ema": ev_ema, "eval_loss_raw": ev_raw,
        "seconds": round(seconds, 1), "threads": args.threads, "torch": torch.__version__,
        "loss_log": log,
    }
    export(args, ema, data, abar, training)


if __name__ == "__main__":
    main()
