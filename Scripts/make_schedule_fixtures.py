#!/usr/bin/env python3
"""Record diffusers' timesteps, sigmas and alphas_cumprod as golden values for dode's tests.

    python Scripts/make_schedule_fixtures.py [--out Tests/Fixtures/diffusers_schedules.json]

Writes one JSON file; its top-level "notes" string describes every key. Needs torch and
diffusers (bootstrapped into ${XDG_CACHE_HOME:-~/.cache}/dode-venv when missing).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _venv  # noqa: E402

_venv.ensure(["torch", "diffusers", "numpy"])

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import diffusers  # noqa: E402
from diffusers import (  # noqa: E402
    DDIMScheduler,
    DEISMultistepScheduler,
    DPMSolverMultistepScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    PNDMScheduler,
    UniPCMultistepScheduler,
)

REPO = Path(__file__).resolve().parents[1]
STEPS = [5, 10, 20, 50]
SPACINGS = ["leading", "trailing", "linspace"]
# Extra case: leading spacing with steps_offset = 1 (Stable Diffusion's setting), N = 10 only.
OFFSET_KEY = "leading_steps_offset_1"
OFFSET_STEPS = [10]
BASE = dict(num_train_timesteps=1000, beta_schedule="linear", beta_start=1e-4, beta_end=0.02)

# Scheduler classes after DDIM, with the options we add to BASE.
OTHERS = [
    (DPMSolverMultistepScheduler, {}),
    (UniPCMultistepScheduler, {}),
    (DEISMultistepScheduler, {}),
    (PNDMScheduler, {"skip_prk_steps": True}),
    (EulerDiscreteScheduler, {}),
    (HeunDiscreteScheduler, {}),
]

NOTES = """\
Golden values from Hugging Face diffusers for dode's schedule/grid tests. Regenerate with
`python Scripts/make_schedule_fixtures.py`. All schedulers are built with
num_train_timesteps=1000, beta_schedule='linear', beta_start=1e-4, beta_end=0.02 (plus the
options listed in each entry's "config"), then `set_timesteps(N)` for N in 5, 10, 20, 50.

generator: script, diffusers/torch/numpy/python versions.
ddim: DDIMScheduler `timesteps` (int labels 0..999, largest first) as
  ddim[spacing][str(N)], spacing in leading/trailing/linspace with steps_offset=0, plus
  ddim["leading_steps_offset_1"]["10"] (leading spacing, steps_offset=1). ddim_config is the
  scheduler config used (timestep_spacing/steps_offset vary per key as stated).
schedulers: one entry per class name. Each has
  config: the full scheduler config used (timestep_spacing and steps_offset replaced by the
    string "per key"; they are set from the key as for ddim);
  default_timestep_spacing / default_steps_offset: what the class uses when not told;
  timesteps_dtype / sigmas_dtype: torch dtype of scheduler.timesteps / scheduler.sigmas;
  timesteps[spacing][str(N)]: scheduler.timesteps exactly as returned, duplicates kept (PNDM
    with skip_prk_steps repeats its second label; Heun repeats every label after the first).
    Integral values are written as JSON integers; fractional ones (Euler/Heun 'linspace') are
    the float32 values converted exactly to float64;
  sigmas[spacing][str(N)]: scheduler.sigmas (s = sqrt((1-abar)/abar) at each timestep, in
    float32, converted exactly to float64; the list ends with the final sigma, 0 for
    final_sigmas_type='zero') for the classes that expose sigmas (DPM-Solver, UniPC, DEIS,
    Euler, Heun);
  errors[spacing][str(N)]: the exception text where set_timesteps or the constructor rejected
    the combination (absent when nothing was rejected).
alphas_cumprod[name]: diffusers' alphas_cumprod for 1000 training steps, with
  config (beta_schedule, beta_start, beta_end; squaredcos_cap_v2 ignores the latter two),
  betas_dtype and dtype (the torch dtypes diffusers used: float32, i.e. diffusers computes its
  schedule in single precision), values (all 1000 float32 values converted exactly to
  float64) and max_abs_diff_vs_float64 (largest |diffusers - exact float64 computation|, the
  float64 reference being linspace betas / cumprod, sqrt(linspace(sqrt(b0), sqrt(b1))) squared
  for scaled_linear, and the cosine alpha_bar with betas clipped at 0.999 for
  squaredcos_cap_v2).
"""


def tensor_list(t):
    """Tensor -> list of Python numbers; integral values become ints, others exact floats."""
    out = []
    for v in t.detach().cpu().double().tolist():
        if math.isfinite(v) and v == int(v):
            out.append(int(v))
        else:
            out.append(v)
    return out


def float_list(t):
    return [float(v) for v in t.detach().cpu().double().tolist()]


def plain_config(cfg, drop=("timestep_spacing", "steps_offset")):
    out = {}
    for k, v in dict(cfg).items():
        if k.startswith("_"):
            continue
        if k in drop:
            out[k] = "per key"
            continue
        if isinstance(v, tuple):
            v = list(v)
        if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            v = repr(v)  # strict JSON has no NaN/Infinity: write "-inf" etc. as strings
        try:
            json.dumps(v, allow_nan=False)
        except (TypeError, ValueError):
            v = repr(v)
        out[k] = v
    return out


def cases():
    for spacing in SPACINGS:
        for n in STEPS:
            yield spacing, spacing, 0, n
    for n in OFFSET_STEPS:
        yield OFFSET_KEY, "leading", 1, n


def run_scheduler(cls, extra):
    entry = {"timesteps": {}, "errors": {}}
    default = cls(**BASE, **extra)
    entry["config"] = plain_config(default.config)
    entry["default_timestep_spacing"] = default.config.get("timestep_spacing")
    entry["default_steps_offset"] = default.config.get("steps_offset")
    has_sigmas = False
    for key, spacing, offset, n in cases():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = cls(**BASE, **extra, timestep_spacing=spacing, steps_offset=offset)
                s.set_timesteps(n)
        except Exception as e:  # record the rejection, keep going
            entry["errors"].setdefault(key, {})[str(n)] = f"{type(e).__name__}: {e}"
            continue
        entry["timesteps"].setdefault(key, {})[str(n)] = tensor_list(s.timesteps)
        entry["timesteps_dtype"] = str(s.timesteps.dtype).replace("torch.", "")
        sig = getattr(s, "sigmas", None)
        if isinstance(sig, torch.Tensor):
            has_sigmas = True
            entry.setdefault("sigmas", {}).setdefault(key, {})[str(n)] = float_list(sig)
            entry["sigmas_dtype"] = str(sig.dtype).replace("torch.", "")
    if not entry["errors"]:
        del entry["errors"]
    if not has_sigmas:
        entry.pop("sigmas", None)
    return entry


def exact_alphas_cumprod(kind, b0, b1, n=1000):
    if kind == "linear":
        betas = np.linspace(b0, b1, n, dtype=np.float64)
    elif kind == "scaled_linear":
        betas = np.linspace(math.sqrt(b0), math.sqrt(b1), n, dtype=np.float64) ** 2
    elif kind == "squaredcos_cap_v2":
        def abar(t):
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        betas = np.array([min(1 - abar((i + 1) / n) / abar(i / n), 0.999) for i in range(n)])
    else:
        raise ValueError(kind)
    return np.cumprod(1.0 - betas)


def alphas_cumprod_entries():
    out = {}
    for kind, b0, b1 in [("linear", 1e-4, 0.02), ("scaled_linear", 0.00085, 0.012),
                         ("squaredcos_cap_v2", 1e-4, 0.02)]:
        s = DDIMScheduler(num_train_timesteps=1000, beta_schedule=kind, beta_start=b0, beta_end=b1)
        ac = s.alphas_cumprod
        vals = float_list(ac)
        exact = exact_alphas_cumprod(kind, b0, b1)
        out[kind] = {
            "config": {"beta_schedule": kind, "beta_start": b0, "beta_end": b1,
                       "num_train_timesteps": 1000},
            "betas_dtype": str(s.betas.dtype).replace("torch.", ""),
            "dtype": str(ac.dtype).replace("torch.", ""),
            "max_abs_diff_vs_float64": float(np.max(np.abs(np.array(vals) - exact))),
            "values": vals,
        }
    return out


def dump(obj, indent=0):
    """JSON with one line per key but every list of numbers on a single line."""
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f'{pad} {json.dumps(k)}: {dump(v, indent + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        items = [pad + " " + dump(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "Tests/Fixtures/diffusers_schedules.json")
    args = ap.parse_args()

    ddim = {}
    ddim_errors = {}
    for key, spacing, offset, n in cases():
        try:
            s = DDIMScheduler(**BASE, timestep_spacing=spacing, steps_offset=offset)
            s.set_timesteps(n)
            ddim.setdefault(key, {})[str(n)] = tensor_list(s.timesteps)
        except Exception as e:
            ddim_errors.setdefault(key, {})[str(n)] = f"{type(e).__name__}: {e}"

    doc = {
        "generator": (f"Scripts/make_schedule_fixtures.py with diffusers {diffusers.__version__}, "
                      f"torch {torch.__version__}, numpy {np.__version__}, "
                      f"python {platform.python_version()}"),
        "notes": NOTES,
        "ddim_config": plain_config(DDIMScheduler(**BASE).config),
        "ddim": ddim,
    }
    if ddim_errors:
        doc["ddim_errors"] = ddim_errors
    doc["schedulers"] = {cls.__name__: run_scheduler(cls, extra) for cls, extra in OTHERS}
    doc["alphas_cumprod"] = alphas_cumprod_entries()

    text = dump(doc) + "\n"
    json.loads(text)  # self-check
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} ({len(text.encode())} bytes)")


if __name__ == "__main__":
    main()
