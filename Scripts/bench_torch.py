"""PyTorch side of Scripts/bench: the same work as dode's workloads, timed in the same run.

Usage (called by Scripts/bench.lua):
  python bench_torch.py <spec.json>   the spec names the mixture file, the digits model folder,
                                      sizes and repetitions; the result (best-of-reps seconds per
                                      workload) is printed as one JSON object on stdout.
  python bench_torch.py --serve       a server for timings taken in alternation with dode's:
                                      one JSON command per line on stdin, one JSON reply per line
                                      on stdout. {"op": "unet", "path": folder, "batch": B,
                                      "reps": n} loads the diffusers UNet2DModel of folder/unet
                                      once and replies {"seconds": best of n forwards} (one
                                      untimed forward first at each new batch size);
                                      {"op": "quit"} ends.
CPU, 2 threads, float64 for the mixture (as dode), float32 for the networks.
"""
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _venv  # noqa: E402

_venv.ensure(["torch", "safetensors", "numpy"] + (["diffusers"] if "--serve" in sys.argv else []))

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

torch.set_num_threads(2)


def best(fn, reps):
    b = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        b = min(b, time.perf_counter() - t0)
    return b


def mixture_denoiser(w, mu, sd):
    """Exact posterior mean of a mixture with per-axis stds (k-diffusion convention D(y, s)),
    in the matrix-product formulation: with v = std² + s², the log-responsibilities need
    y²·(1/v)ᵀ and y·(μ/v)ᵀ, and the mean two products of the responsibilities with K×d matrices."""
    logw = torch.log(w / w.sum())
    var0 = sd ** 2

    def D(y, s):
        v = var0 + s * s                                           # K x d
        iv = 1 / v
        const = logw - 0.5 * ((mu ** 2) * iv + torch.log(v)).sum(1)  # K
        logp = const - 0.5 * (y * y) @ iv.T + y @ (mu * iv).T      # B x K
        r = torch.softmax(logp, dim=1)
        return r @ (mu * (s * s) * iv) + y * (r @ (var0 * iv))
    return D


def dpmpp_2m(D, x, sigmas):
    """k-diffusion's sample_dpmpp_2m (no noise), written out."""
    old = None
    for i in range(len(sigmas) - 1):
        s, sn = sigmas[i], sigmas[i + 1]
        den = D(x, s)
        t, tn = -math.log(s), (-math.log(sn) if sn > 0 else math.inf)
        h = tn - t
        if old is None or sn == 0:
            x = (sn / s) * x - math.expm1(-h) * den
        else:
            hl = t - (-math.log(sigmas[i - 1]))
            r = hl / h
            dd = (1 + 1 / (2 * r)) * den - (1 / (2 * r)) * old
            x = (sn / s) * x - math.expm1(-h) * dd
        old = den
    return x


def main():
    spec = json.loads(Path(sys.argv[1]).read_text())
    reps = spec["reps"]
    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    m = json.loads(Path(spec["mixture"]).read_text())
    w = torch.tensor(m["weights"], dtype=torch.float64)
    mu = torch.tensor(m["means"], dtype=torch.float64)
    sd = torch.tensor(m["stds"], dtype=torch.float64)
    D = mixture_denoiser(w, mu, sd)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(spec["mixture_batch"], mu.shape[1], generator=g, dtype=torch.float64)
    sigmas = spec["sigmas"]
    with torch.no_grad():
        out["mixture_dpmpp2m"] = best(lambda: dpmpp_2m(D, x * sigmas[0], sigmas), reps)
        out["mixture_denoiser"] = best(lambda: D(x, 1.0), reps)

    # The digits MLP (dode.mlp format), float32, batch B, DDIM and DPM++(2M) in x-space.
    cfg = json.loads((Path(spec["model"]) / "config.json").read_text())
    W = {k: v.float() for k, v in load_file(str(Path(spec["model"]) / "weights.safetensors")).items()}

    def lin(h, name):
        return torch.nn.functional.linear(h, W[name + ".weight"], W.get(name + ".bias"))

    def net(xin, t):
        regs = {"x": xin}
        for op in cfg["graph"]:
            k = op["op"]
            if k == "time_embedding":
                half = op["dim"] // 2
                f = torch.exp(-math.log(op.get("max_period", 10000)) * torch.arange(half, dtype=torch.float64) / half)
                a = torch.full((xin.shape[0], 1), float(t), dtype=torch.float64) * f[None]
                regs[op["out"]] = torch.cat([torch.cos(a), torch.sin(a)], 1).float()
            elif k == "linear":
                regs[op["out"]] = torch.nn.functional.linear(regs[op["in"]], W[op["weight"]], W.get(op.get("bias", "")))
            elif k == "silu":
                regs[op["out"]] = torch.nn.functional.silu(regs[op["in"]])
            elif k == "resblock":
                h = regs[op["in"]]
                z = lin(torch.nn.functional.silu(h), op["fc1"]) + lin(regs[op["temb"]], op["tproj"])
                regs[op["out"]] = h + lin(torch.nn.functional.silu(z), op["fc2"])
        return regs["out"]

    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    ac = torch.cumprod(1 - betas, 0).tolist()
    labels = [int(round(t)) for t in spec["labels"]]
    B = spec["net_batch"]
    xn = torch.randn(B, 64, generator=g, dtype=torch.float32)

    def ddim(dpmpp):
        xs = xn.clone()
        old = None
        for i, t in enumerate(labels):
            a = math.sqrt(ac[t]); sg = math.sqrt(1 - ac[t])
            eps = net(xs, t)
            d0 = (xs - sg * eps) / a
            tn = labels[i + 1] if i + 1 < len(labels) else None
            an = math.sqrt(ac[tn]) if tn is not None else 1.0
            sn = math.sqrt(1 - ac[tn]) if tn is not None else 0.0
            r = (sn / an) / (sg / a)
            dd = d0
            if dpmpp and old is not None and tn is not None:
                tp = labels[i - 1]
                lp = math.log(math.sqrt(ac[tp]) / math.sqrt(1 - ac[tp]))
                l0, l1 = math.log(a / sg), math.log(an / sn)
                rr = (l0 - lp) / (l1 - l0)
                dd = (1 + 1 / (2 * rr)) * d0 - (1 / (2 * rr)) * old
            xs = an * (r * xs / a + (1 - r) * dd)
            old = d0
        return xs
    with torch.no_grad():
        out["net_ddim"] = best(lambda: ddim(False), reps)
        out["net_dpmpp2m"] = best(lambda: ddim(True), reps)
        out["net_forward"] = best(lambda: net(xn, 500), reps)
    print(json.dumps(out))


def serve():
    import warnings
    warnings.filterwarnings("ignore")
    from diffusers import UNet2DModel
    models, inputs = {}, {}
    g = torch.Generator().manual_seed(0)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        try:
            if cmd["op"] == "quit":
                break
            if cmd["op"] == "unet":
                path = cmd["path"]
                if path not in models:
                    models[path] = UNet2DModel.from_pretrained(Path(path) / "unet").eval()
                model = models[path]
                key = (path, cmd["batch"])
                t = torch.tensor([500.0])
                with torch.no_grad():
                    if key not in inputs:
                        inputs[key] = torch.randn(cmd["batch"], model.config.in_channels, 32, 32, generator=g)
                        model(inputs[key], t)
                    x = inputs[key]
                    reply = {"seconds": best(lambda: model(x, t), cmd.get("reps", 1)), "torch": torch.__version__,
                             "threads": torch.get_num_threads()}
            else:
                reply = {"error": "unknown op " + str(cmd["op"])}
        except Exception as e:  # the bench reports it and carries on without torch
            reply = {"error": repr(e)}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve()
    else:
        main()
