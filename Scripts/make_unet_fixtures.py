#!/usr/bin/env python3
"""Write the UNet2DModel parity fixtures under Tests/Fixtures/unet/ (diffusers + torch).

    python Scripts/make_unet_fixtures.py [--out Tests/Fixtures/unet]

Each fixture is a randomly initialised diffusers UNet2DModel saved as a pipeline folder
(`<name>/unet/config.json`, `<name>/unet/diffusion_pytorch_model.safetensors`, sometimes a
`<name>/scheduler/scheduler_config.json`) plus `<name>/io.safetensors` holding inputs `x`
[B, C, H, W], per-sample timesteps `t` [B] (some fractional), class labels `class_labels` for
conditional models, and diffusers' output `out`. Together the fixtures cover every block type and
config option dode supports (see the table below); `cifar_small` has the block structure of the
DDPM CIFAR-10 model (google/ddpm-cifar10-32) at reduced widths and is also the benchmark model.

Weights are drawn, then rounded to float16 and stored as F16 (real checkpoints often are), and the
reference outputs are computed in float32 from exactly those values. Parameters that
initialise to zero or one (biases, norms, the zero-initialised output conv) are randomised so
that every tensor influences the output. `legacy_attention` stores its attention weights under
the pre-0.10 names (query/key/value/proj_attn) that old checkpoints such as google/ddpm-cifar10-32
use; diffusers converts them on load and so must dode.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _venv  # noqa: E402

_venv.ensure(["torch", "safetensors", "numpy", "diffusers"])

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import warnings  # noqa: E402

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

warnings.filterwarnings("ignore")
import diffusers  # noqa: E402
from diffusers import DDPMScheduler, UNet2DModel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

FIXTURES = {
    # DDPM CIFAR-10 layout (4 levels, attention at the second, 2 ResNets per level, padding 0
    # downsampling, freq_shift 1, no sin/cos flip) at widths 16/32/32/32 (1/8 of the original).
    "cifar_small": dict(
        sample_size=32, in_channels=3, out_channels=3, block_out_channels=(16, 32, 32, 32), layers_per_block=2,
        down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=None, downsample_padding=0, flip_sin_to_cos=False, freq_shift=1,
        norm_num_groups=8, norm_eps=1e-6, act_fn="silu", mid_block_scale_factor=1),
    # Multi-head attention in both directions and the mid block, scale-shift time conditioning
    # (the mid attention then has no GroupNorm), flip_sin_to_cos, centred input, padding-1
    # downsampling, a mid-block scale factor, odd time-embedding width, v-prediction scheduler.
    "heads_scale_shift": dict(
        sample_size=16, in_channels=2, out_channels=2, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("AttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "AttnUpBlock2D"),
        attention_head_dim=8, resnet_time_scale_shift="scale_shift", flip_sin_to_cos=True, freq_shift=0,
        center_input_sample=True, downsample_padding=1, norm_num_groups=4, norm_eps=1e-5,
        mid_block_scale_factor=math.sqrt(2), time_embedding_dim=37, act_fn="silu"),
    # ResNet down/upsampling in attention blocks, class embeddings (num_class_embeds), a learned
    # time embedding, a mid block without attention, an explicit attention GroupNorm count, GELU.
    "resnet_sampling_classes": dict(
        sample_size=8, in_channels=1, out_channels=1, block_out_channels=(16, 24, 32), layers_per_block=1,
        down_block_types=("AttnDownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D"),
        downsample_type="resnet", upsample_type="resnet", attention_head_dim=8, num_class_embeds=5,
        time_embedding_type="learned", num_train_timesteps=1000, add_attention=False, attn_norm_num_groups=2,
        norm_num_groups=8, act_fn="gelu"),
    # Class labels through the sinusoidal projection and an MLP ("timestep"), no mid block,
    # ReLU/Mish activations, 3 ResNets per level.
    "timestep_class_nomid": dict(
        sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16), layers_per_block=3,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        class_embed_type="timestep", mid_block_type=None, norm_num_groups=4, act_fn="mish",
        flip_sin_to_cos=True, freq_shift=1),
    # Class embedding given directly as a time_embed_dim vector ("identity"), ReLU, scale-shift with
    # an explicit attention GroupNorm count.
    "identity_class": dict(
        sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16), layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        class_embed_type="identity", norm_num_groups=4, act_fn="relu", resnet_time_scale_shift="scale_shift",
        attn_norm_num_groups=4),
}
LEGACY = "legacy_attention"   # cifar-like layout at tiny width, old attention tensor names
FIXTURES[LEGACY] = dict(
    sample_size=16, in_channels=3, out_channels=3, block_out_channels=(8, 16, 16), layers_per_block=1,
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=None, downsample_padding=0, flip_sin_to_cos=False, freq_shift=1, norm_num_groups=4)

# Odd widths: an odd block_out_channels[0] (the sinusoidal embedding gets a zero column) and an
# attention_head_dim that does not divide the channels (3 heads of 4 = 12 of 15 channels), x0
# prediction in the scheduler config.
FIXTURES["odd_widths"] = dict(
    sample_size=8, in_channels=1, out_channels=1, block_out_channels=(15, 30), layers_per_block=1,
    down_block_types=("AttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "AttnUpBlock2D"),
    attention_head_dim=4, norm_num_groups=5, freq_shift=1)

SCHEDULERS = {"odd_widths": "sample", "heads_scale_shift": "v_prediction", "cifar_small": "epsilon"}


def legacy_names(sd):
    """Rename attention tensors to the names of diffusers < 0.10 checkpoints."""
    out = {}
    for k, v in sd.items():
        k2 = (k.replace(".to_q.", ".query.").replace(".to_k.", ".key.").replace(".to_v.", ".value.")
               .replace(".to_out.0.", ".proj_attn."))
        out[k2] = v
    return out


def build(name, cfg, gen):
    model = UNet2DModel(**cfg).eval()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("weight") and p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
            else:   # biases and norm affine parameters: off their identity values
                base = 1.0 if ("norm" in pname and pname.endswith("weight")) else 0.0
                p.copy_(base + 0.2 * torch.randn(p.shape, generator=gen))
            p.copy_(p.half().float())
    return model


def timesteps(cfg, t):
    """A learned time embedding is a table lookup: diffusers needs integer timesteps there."""
    return t.long() if cfg.get("time_embedding_type") == "learned" else t


def inputs(name, cfg, model, gen):
    b = 3
    size = cfg["sample_size"]
    x = torch.randn(b, cfg["in_channels"], size, size, generator=gen)
    if cfg.get("center_input_sample"):
        x = torch.rand(b, cfg["in_channels"], size, size, generator=gen)
    if cfg.get("time_embedding_type") == "learned":
        t = torch.tensor([999.0, 421.0, 0.0])
    else:
        t = torch.tensor([999.0, 421.5, 0.25])
    io = {"x": x, "t": t}
    kw = {}
    if cfg.get("num_class_embeds"):
        io["class_labels"] = torch.tensor([4.0, 0.0, 2.0])
        kw["class_labels"] = io["class_labels"].long()
    elif cfg.get("class_embed_type") == "timestep":
        io["class_labels"] = torch.tensor([7.0, 0.0, 3.0])
        kw["class_labels"] = io["class_labels"].long()
    elif cfg.get("class_embed_type") == "identity":
        dim = cfg.get("time_embedding_dim") or 4 * cfg["block_out_channels"][0]
        io["class_labels"] = torch.randn(b, dim, generator=gen)
        kw["class_labels"] = io["class_labels"]
    with torch.no_grad():
        io["out"] = model(x, timesteps(cfg, t), **kw).sample
    return {k: v.contiguous() for k, v in io.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "Tests" / "Fixtures" / "unet")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.out.exists():
        shutil.rmtree(args.out)
    summary = {}
    for i, (name, cfg) in enumerate(FIXTURES.items()):
        gen = torch.Generator().manual_seed(100 + i)
        model = build(name, cfg, gen)
        io = inputs(name, cfg, model, gen)
        folder = args.out / name
        model.save_pretrained(folder / "unet", safe_serialization=True)
        sd = {k: v.half().contiguous() for k, v in model.state_dict().items()}
        if name == LEGACY:
            sd = legacy_names(sd)
        save_file(sd, str(folder / "unet" / "diffusion_pytorch_model.safetensors"))
        if name in SCHEDULERS:
            DDPMScheduler(num_train_timesteps=1000,
                          prediction_type=SCHEDULERS[name]).save_pretrained(folder / "scheduler")
        save_file(io, str(folder / "io.safetensors"))
        # The saved folder must reproduce the outputs through diffusers' own loader.
        back = UNet2DModel.from_pretrained(folder / "unet").eval()
        kw = {"class_labels": io["class_labels"].long() if io.get("class_labels") is not None
              and io["class_labels"].dim() == 1 else io.get("class_labels")} if "class_labels" in io else {}
        with torch.no_grad():
            again = back(io["x"], timesteps(cfg, io["t"]), **kw).sample
        err = ((again - io["out"]).abs().max() / io["out"].abs().max()).item()
        assert err < 1e-6, (name, err)
        n = sum(p.numel() for p in model.parameters())
        summary[name] = {"parameters": n, "reload_error": err}
        print(f"{name:26s} {n:9d} parameters  max|out| {io['out'].abs().max():.3g}  reload err {err:.1e}")
    (args.out / "README.md").write_text(
        "# UNet2DModel parity fixtures\n\nWritten by `python Scripts/make_unet_fixtures.py` with diffusers "
        f"{diffusers.__version__} and torch {torch.__version__}; see that script for what each covers.\n\n"
        + "\n".join(f"- `{k}`: {v['parameters']:,} parameters" for k, v in summary.items()) + "\n")


if __name__ == "__main__":
    main()
