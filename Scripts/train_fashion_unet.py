#!/usr/bin/env python3
"""Train dode's small Fashion-MNIST UNet2DModel (a diffusers checkpoint dode runs natively).

    python Scripts/train_fashion_unet.py [--steps 1200] [--batch 128] [--seed 0]
                                         [--out Models/fashion_unet]

Data: Fashion-MNIST from Debian's `dataset-fashion-mnist` (installed with apt-get when missing),
28x28 images padded with background to 32x32 and scaled to [-1, 1] (x = pixel/127.5 - 1);
random horizontal flips.

Model: diffusers UNet2DModel, 1 channel in and out, block_out_channels (16, 32, 64), one ResNet
per level, self-attention at 16x16 (the DDPM CIFAR-10 block layout at three levels), GroupNorm
with 8 groups; about 0.65M parameters. Objective: epsilon prediction under the DDPM linear
schedule (beta 1e-4..0.02, 1000 steps), mean squared error, AdamW with warm-up and cosine decay,
EMA of the weights (the EMA is what is saved).

Runs on CPU with 2 threads (about 25 minutes at the defaults). Writes the folder layout of a
diffusers pipeline: `unet/` (config.json, diffusion_pytorch_model.safetensors) and `scheduler/`
(scheduler_config.json), plus fixture.safetensors (inputs, timesteps and PyTorch outputs for
parity tests) and README.md. Checkpoints are written atomically every --save-every steps.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _venv  # noqa: E402

_venv.ensure(["torch", "safetensors", "numpy", "diffusers"])

import argparse  # noqa: E402
import copy  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

warnings.filterwarnings("ignore")
from diffusers import DDPMScheduler, UNet2DModel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")
CREDIT = ("Fashion-MNIST, H. Xiao, K. Rasul and R. Vollgraf (Zalando Research), "
          "https://github.com/zalandoresearch/fashion-mnist, MIT licence")


def ensure_dataset():
    if not (FASHION / "train-images-idx3-ubyte.gz").exists():
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "dataset-fashion-mnist"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion(split):
    """Images as float32 [N, 1, 32, 32] in [-1, 1] (padded 2 pixels of background) and labels."""
    ensure_dataset()
    prefix = "train" if split == "train" else "t10k"
    img = read_idx(FASHION / f"{prefix}-images-idx3-ubyte.gz")
    lab = read_idx(FASHION / f"{prefix}-labels-idx1-ubyte.gz")
    x = torch.from_numpy(img.astype(np.float32) / 127.5 - 1.0)
    x = F.pad(x, (2, 2, 2, 2), value=-1.0)[:, None]
    return x, torch.from_numpy(lab.astype(np.int64))


def make_model():
    return UNet2DModel(
        sample_size=32, in_channels=1, out_channels=1,
        block_out_channels=(16, 32, 64), layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8, attention_head_dim=None, downsample_padding=0,
        flip_sin_to_cos=False, freq_shift=1)


def atomic_save(model, scheduler, out, fixture, meta):
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp / "unet", safe_serialization=True)
    scheduler.save_pretrained(tmp / "scheduler")
    save_file(fixture, str(tmp / "fixture.safetensors"))
    (tmp / "training.json").write_text(json.dumps(meta["runs"], indent=1) + "\n")
    (tmp / "README.md").write_text(readme(meta))
    old = out.with_name(out.name + ".old")
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)


def readme(meta):
    return f"""# fashion_unet: a small diffusers UNet2DModel trained on Fashion-MNIST

A diffusers pipeline folder: `unet/` (config.json, diffusion_pytorch_model.safetensors) and
`scheduler/` (DDPM linear schedule, epsilon prediction). dode loads it with
`dode.denoiser.unet{{ path = 'Models/fashion_unet', schedule = dode.schedule.vp() }}`.

- Data: {CREDIT}. Images padded from 28x28 to 32x32 with background, x = pixel/127.5 - 1.
- Parameters: {meta['parameters']:,}; trained {meta['steps']} steps of batch {meta['batch']}
  ({meta['seconds']:.0f} s on {meta['threads']} CPU threads); training loss {meta["loss"]:.4f} \
(mean of the last 200 steps).
- Reproduce (in order): {"; ".join("`" + r["command"] + "`" for r in meta["runs"])}
- `fixture.safetensors`: inputs `x` [4,1,32,32], timesteps `t` [4] and the PyTorch outputs `eps`
  of the saved (EMA) weights, for dode's parity test.
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save-every", type=int, default=200)
    ap.add_argument("--out", type=Path, default=REPO / "Models" / "fashion_unet")
    ap.add_argument("--resume", type=Path, default=None,
                    help="continue from the weights of a folder this script wrote (its unet/), with a fresh "
                         "optimiser and learning-rate schedule")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    x_train, _ = load_fashion("train")
    model = make_model()
    history = []
    if args.resume:
        model.load_state_dict(UNet2DModel.from_pretrained(args.resume / "unet").state_dict())
        old = (args.resume / "training.json")
        history = json.loads(old.read_text()) if old.exists() else []
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", beta_start=1e-4, beta_end=0.02,
                              prediction_type="epsilon")
    abar = scheduler.alphas_cumprod.float()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    warm = min(100, args.steps // 10)

    def lr_at(step):
        if step < warm:
            return (step + 1) / warm
        p = (step - warm) / max(1, args.steps - warm)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    fx = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(1234))
    ft = torch.tensor([999.0, 500.0, 120.0, 3.0])
    nparams = sum(p.numel() for p in model.parameters())
    command = (f"python Scripts/train_fashion_unet.py --steps {args.steps} --batch {args.batch} --seed {args.seed} "
               f"--lr {args.lr:g}")
    if args.resume:
        resume = (args.resume.relative_to(REPO) if args.resume.is_absolute() and REPO in args.resume.parents
                  else args.resume)
        command += f" --resume {resume}"
    start = time.time()
    recent = []

    def save(step):
        with torch.no_grad():
            eps = ema(fx, ft).sample
        runs = history + [{"command": command, "steps": step, "seconds": round(time.time() - start, 1),
                           "loss": round(sum(recent) / max(1, len(recent)), 5)}]
        meta = {"parameters": nparams, "steps": sum(r["steps"] for r in runs), "batch": args.batch,
                "seconds": sum(r["seconds"] for r in runs), "threads": args.threads,
                "loss": sum(recent) / max(1, len(recent)), "runs": runs}
        atomic_save(ema, scheduler, args.out, {"x": fx.contiguous(), "t": ft.contiguous(), "eps": eps.contiguous()},
                    meta)

    n = x_train.shape[0]
    for step in range(args.steps):
        idx = torch.randint(0, n, (args.batch,), generator=gen)
        x0 = x_train[idx]
        flip = torch.rand(args.batch, generator=gen) < 0.5
        x0 = torch.where(flip[:, None, None, None], x0.flip(-1), x0)
        t = torch.randint(0, 1000, (args.batch,), generator=gen)
        eps = torch.randn(x0.shape, generator=gen)
        a = abar[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        loss = F.mse_loss(model(xt, t).sample, eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            d = args.ema if args.resume else min(args.ema, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm, alpha=1 - d)
        recent.append(loss.item())
        recent = recent[-200:]
        if (step + 1) % 20 == 0:
            print(f"step {step + 1:5d} loss {sum(recent) / len(recent):.4f} lr {sched.get_last_lr()[0]:.2e} "
                  f"{time.time() - start:6.0f}s", flush=True)
        if (step + 1) % args.save_every == 0 or step + 1 == args.steps:
            save(step + 1)
    print(f"saved {args.out} ({nparams} parameters, {time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
