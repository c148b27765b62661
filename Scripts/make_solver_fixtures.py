#!/usr/bin/env python3
"""Reference fixtures for dode's solver parity tests (diffusers and k-diffusion samplers).

For every Gaussian mixture in shared/data/mixtures/*.json this writes
Tests/Fixtures/solvers/<name>.json: a fixed noise batch and, for each case, the final sample that
a diffusers scheduler loop or a k-diffusion sampler produces with the mixture's exact
posterior-mean denoiser (Float64), plus everything dode needs to rebuild the same grid. The
schema is described in Tests/Fixtures/solvers/README.md. The Swift tests read these files and
never run Python.

Besides running the libraries, the script re-implements every case in Float64 in the canonical
(y, s) form of docs/method.md, using only the fixture's own data (labels, final point, options),
and records the difference: that is the evidence that the fixture is reproducible from what it
records. It asserts agreement (diffusers: 1e-4 absolute, its schedule is Float32; k-diffusion:
1e-12 relative).

Usage:  python3 Scripts/make_solver_fixtures.py [--mixtures DIR] [--out DIR] [--batch B]
"""

import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _venv  # noqa: E402

_venv.ensure(["numpy", "scipy", "torch", "diffusers", "tqdm", "torchsde", "torchdiffeq"])

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import types  # noqa: E402
import warnings  # noqa: E402
from contextlib import contextmanager  # noqa: E402

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

REPO = pathlib.Path(__file__).resolve().parent.parent
F64 = torch.float64


# ---------------------------------------------------------------------------------------------
# k-diffusion: only k_diffusion/sampling.py is needed. Importing the package pulls in torchvision,
# PIL, clip, ... through its other modules, so load sampling.py by itself with a stub `utils`.

def _ensure_k_diffusion_installed():
    if importlib.util.find_spec("k_diffusion") is not None:
        return
    if sys.prefix == sys.base_prefix:
        sys.exit("k-diffusion is not installed; run `pip install --no-deps k-diffusion` "
                 "in the environment that has torch, or run this script from the dode venv")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "k-diffusion"], check=True)
    importlib.invalidate_caches()


def load_k_sampling():
    _ensure_k_diffusion_installed()
    try:
        import k_diffusion.sampling as ks  # works only when all of its dependencies are present
        return ks, "package import"
    except Exception:  # noqa: BLE001 - any failure of the other modules
        for name in [m for m in sys.modules if m == "k_diffusion" or m.startswith("k_diffusion.")]:
            del sys.modules[name]
    spec = importlib.util.find_spec("k_diffusion")
    pkg_dir = list(spec.submodule_search_locations)[0]
    pkg = types.ModuleType("k_diffusion")
    pkg.__path__ = [pkg_dir]
    utils = types.ModuleType("k_diffusion.utils")

    def append_dims(x, target_dims):
        missing = target_dims - x.ndim
        if missing < 0:
            raise ValueError(f"input has {x.ndim} dims but target_dims is {target_dims}")
        return x[(...,) + (None,) * missing]

    utils.append_dims = append_dims
    pkg.utils = utils
    sys.modules["k_diffusion"] = pkg
    sys.modules["k_diffusion.utils"] = utils
    sspec = importlib.util.spec_from_file_location("k_diffusion.sampling",
                                                   os.path.join(pkg_dir, "sampling.py"))
    ks = importlib.util.module_from_spec(sspec)
    sys.modules["k_diffusion.sampling"] = ks
    sspec.loader.exec_module(ks)
    return ks, "sampling.py loaded alone (stub utils.append_dims)"


def dist_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # noqa: BLE001
        return "unknown"


@contextmanager
def default_dtype(dtype):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


# ---------------------------------------------------------------------------------------------
# Float64 DDPM linear schedule (what dode uses; diffusers builds the same in Float32).

class DDPM64:
    def __init__(self, n=1000, beta_start=1e-4, beta_end=0.02):
        betas = np.linspace(beta_start, beta_end, n, dtype=np.float64)
        self.abar = np.cumprod(1.0 - betas)
        self.s = np.sqrt((1.0 - self.abar) / self.abar)
        self.n = n

    def s_at(self, t):
        """Noise level s = sigma/alpha at label t; between integers s is linear in t (what
        diffusers' Euler/Heun schedulers do for fractional timesteps)."""
        t = float(t)
        if t == int(t):
            return float(self.s[int(t)])
        lo = int(math.floor(t))
        w = t - lo
        return float((1.0 - w) * self.s[lo] + w * self.s[lo + 1])

    def alpha_at(self, t):
        t = float(t)
        if t == int(t):
            return float(math.sqrt(self.abar[int(t)]))
        return 1.0 / math.sqrt(1.0 + self.s_at(t) ** 2)


SCHED = DDPM64()


# ---------------------------------------------------------------------------------------------
# Exact posterior mean of a Gaussian mixture with per-axis stds.

class Mixture:
    def __init__(self, path):
        m = json.loads(pathlib.Path(path).read_text())
        self.raw = m
        self.name = m["name"]
        self.dim = int(m["dim"])
        w = torch.tensor(m["weights"], dtype=F64)
        self.logw = torch.log(w / w.sum())
        self.mu = torch.tensor(m["means"], dtype=F64)             # [K, d]
        self.var0 = torch.tensor(m["stds"], dtype=F64) ** 2       # [K, d]
        assert self.mu.shape == self.var0.shape and self.mu.shape[1] == self.dim

    def D(self, y, s):
        """E[x0 | y] for y = x0 + s n. y: [B, d] Float64; s: float or tensor ([] or [B])."""
        s = torch.as_tensor(s, dtype=F64)
        s2 = (s * s).reshape(-1, 1, 1) if s.ndim > 0 else s * s
        v = self.var0.unsqueeze(0) + s2                          # [B|1, K, d]
        diff = y.unsqueeze(1) - self.mu.unsqueeze(0)             # [B, K, d]
        logr = self.logw.unsqueeze(0) - 0.5 * (diff * diff / v + torch.log(v)).sum(-1)
        logr = logr - torch.logsumexp(logr, dim=1, keepdim=True)
        r = torch.exp(logr)                                      # [B, K]
        post = self.mu.unsqueeze(0) + (self.var0.unsqueeze(0) / v) * diff
        return (r.unsqueeze(-1) * post).sum(1)


class Counter:
    def __init__(self, fn):
        self.fn = fn
        self.n = 0

    def __call__(self, *a, **k):
        self.n += 1
        return self.fn(*a, **k)


def make_eps_model(mix):
    """A diffusers epsilon-prediction 'network': input x (VP space) at label t."""
    def eps_model(x_in, t):
        tf = float(t)
        a, s = SCHED.alpha_at(tf), SCHED.s_at(tf)
        x_in = x_in.to(F64)
        y = x_in / a
        return (y - mix.D(y, s)) / s
    return eps_model


# ---------------------------------------------------------------------------------------------
# diffusers cases

BASE = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear")


def jsonable(v):
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, torch.Tensor):
        return jsonable(v.tolist())
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # e.g. lambda_min_clipped = -inf
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)


def dedup(seq):
    out = []
    for t in seq:
        if not out or out[-1] != t:
            out.append(t)
    return out


def label_value(t):
    f = float(t)
    return int(f) if f == int(f) else f


def instrument(sch, names):
    """Record which update method a multistep scheduler calls at each step (its order)."""
    log = []
    for order, name in names.items():
        fn = getattr(sch, name)

        def wrapped(*a, _fn=fn, _order=order, **k):
            log.append(_order)
            return _fn(*a, **k)
        setattr(sch, name, wrapped)
    return log


class _TorchFloat64Proxy:
    """Stands in for the `torch` module inside a scheduler module so that its
    `sample.to(torch.float32)` casts keep Float64 (used only for the Float64 cross-check)."""
    float32 = torch.float64

    def __getattr__(self, name):
        return getattr(torch, name)


def patch_float64(sch, cls):
    """Replace the scheduler's Float32 schedule by dode's Float64 one (same labels, same final
    point). With it, diffusers' own step code must agree with the re-implementation to
    round-off; this isolates the ~1e-5 Float32 effect from any algorithmic difference."""
    labels = dedup([label_value(t) for t in sch.timesteps])
    s = [SCHED.s_at(t) for t in labels]
    if cls in (DDIMScheduler, PNDMScheduler):
        sch.alphas_cumprod = torch.tensor(SCHED.abar, dtype=F64)
        if not sch.config.set_alpha_to_one:
            sch.final_alpha_cumprod = sch.alphas_cumprod[0]
        return
    last = float(sch.sigmas[-1])
    s_final = 0.0 if last == 0.0 else float(SCHED.s[0])
    if cls is HeunDiscreteScheduler:
        full = [s[0]] + [v for v in s[1:] for _ in range(2)] + [s_final]
    else:
        full = s + [s_final]
    assert len(full) == len(sch.sigmas), (cls, len(full), len(sch.sigmas))
    sch.sigmas = torch.tensor(full, dtype=F64)


def run_diffusers(cls, kwargs, n, eps, eps_model, float64=False):
    sch = cls(**BASE, **kwargs)
    sch.set_timesteps(n)
    init = sch.init_noise_sigma          # read before any patching (pipelines read it here)
    module = sys.modules[cls.__module__]
    saved_torch = module.torch
    if float64:
        patch_float64(sch, cls)
        module.torch = _TorchFloat64Proxy()
    try:
        res = _run_loop(sch, cls, init, eps, eps_model)
    finally:
        module.torch = saved_torch
    return res


def _run_loop(sch, cls, init, eps, eps_model):
    config = jsonable(dict(sch.config))
    if isinstance(config.get("_use_default_values"), list):   # built from a set: fix the order
        config["_use_default_values"] = sorted(config["_use_default_values"])
    timesteps = [label_value(t) for t in sch.timesteps]
    sigmas = [float(s) for s in sch.sigmas] if hasattr(sch, "sigmas") and sch.sigmas is not None else None
    init_f = float(init)
    orders, correctors = None, None
    if cls in (DPMSolverMultistepScheduler,):
        orders = instrument(sch, {1: "dpm_solver_first_order_update",
                                  2: "multistep_dpm_solver_second_order_update",
                                  3: "multistep_dpm_solver_third_order_update"})
    elif cls is DEISMultistepScheduler:
        orders = instrument(sch, {1: "deis_first_order_update",
                                  2: "multistep_deis_second_order_update",
                                  3: "multistep_deis_third_order_update"})
    elif cls is UniPCMultistepScheduler:
        orders, correctors = [], []
        fn = sch.multistep_uni_c_bh_update

        def corr(*a, **k):
            correctors.append(int(k["order"]))
            return fn(*a, **k)
        sch.multistep_uni_c_bh_update = corr
    model = Counter(eps_model)
    x = eps * init                      # x_T = eps * init_noise_sigma (Float64 tensor)
    for t in sch.timesteps:
        model_in = sch.scale_model_input(x, t)
        out = model(model_in, t)
        x = sch.step(out, t, x).prev_sample
        if cls is UniPCMultistepScheduler:
            orders.append(int(sch.this_order))
    assert x.dtype == F64, x.dtype
    return dict(config=config, timesteps=timesteps, sigmas=sigmas, init_noise_sigma=init_f,
                nfe=model.n, output=x, orders=orders, correctors=correctors)


# ---------------------------------------------------------------------------------------------
# Float64 re-implementations in (y, s). `den(y, i)` evaluates D at grid point i (i < number of
# listed labels); s[i] are the grid's noise levels, s[-1] the final point (possibly 0).

def ell(s):
    return -math.log(s) if s > 0 else math.inf


def reimpl_ddim(den, s, y):
    for i in range(len(s) - 1):
        d = den(y, i)
        r = s[i + 1] / s[i]
        y = r * y + (1.0 - r) * d
    return y, len(s) - 1


def reimpl_pndm(den, s, y):
    """diffusers PNDM with skip_prk_steps (its transfer formula equals DDIM in eps)."""
    nfe = 0

    def eps_at(yy, i):
        nonlocal nfe
        nfe += 1
        return (yy - den(yy, i)) / s[i]

    ets = []
    steps = len(s) - 1
    for i in range(steps):
        e = eps_at(y, i)
        ets.append(e)
        if i == 0:
            y_pred = y - (s[0] - s[1]) * e
            if steps == 1:
                y = y_pred
                break
            e1 = eps_at(y_pred, 1)           # warm start: second point evaluated twice
            y = y - (s[0] - s[1]) * (e + e1) / 2.0
            continue
        h = ets[-4:]
        if len(h) == 2:
            et = (3 * h[-1] - h[-2]) / 2
        elif len(h) == 3:
            et = (23 * h[-1] - 16 * h[-2] + 5 * h[-3]) / 12
        else:
            et = (55 * h[-1] - 59 * h[-2] + 37 * h[-3] - 9 * h[-4]) / 24
        y = y - (s[i] - s[i + 1]) * et
    return y, nfe


_GL_X, _GL_W = np.polynomial.legendre.leggauss(40)


def gauss(f, a, b):
    xm, xr = 0.5 * (a + b), 0.5 * (b - a)
    return float(xr * np.sum(_GL_W * f(xm + xr * _GL_X)))


def lagrange_basis(nodes, j):
    def L(u):
        out = np.ones_like(u)
        for k, nk in enumerate(nodes):
            if k != j:
                out = out * (u - nk) / (nodes[j] - nk)
        return out
    return L


def multistep_orders(steps, order, lower_final_n15, final_zero_first_order):
    """Order used at each step by diffusers' DPM-Solver(++)/DEIS multistep schedulers."""
    out = []
    for i in range(steps):
        lof = i == steps - 1 and ((lower_final_n15 and steps < 15) or final_zero_first_order)
        los = i == steps - 2 and lower_final_n15 and steps < 15
        if order == 1 or i < 1 or lof:
            out.append(1)
        elif order == 2 or i < 2 or los:
            out.append(2)
        else:
            out.append(3)
    return out


def reimpl_deis(den, s, y, order):
    """diffusers DEIS (logrho): eps Lagrange-interpolated in log s over the last `order` points,
    integrated over s (dy/ds = eps). Quadrature in u = log s."""
    steps = len(s) - 1
    orders = multistep_orders(steps, order, True, False)
    eps_hist = []
    for i in range(steps):
        eps_hist.append((y - den(y, i)) / s[i])
        p = orders[i]
        u_nodes = [math.log(s[i - k]) for k in range(p)]
        a, b = math.log(s[i]), math.log(s[i + 1])
        y_new = y.clone()
        for j in range(p):
            L = lagrange_basis(u_nodes, j)
            c = gauss(lambda u, L=L: L(u) * np.exp(u), a, b)
            y_new = y_new + c * eps_hist[-1 - j]
        y = y_new
    return y, steps, orders


def reimpl_dpm_multistep(den, s, y, order, plus, final_zero):
    """DPM-Solver++ (plus=True, data prediction) or DPM-Solver (eps) multistep, midpoint form."""
    steps = len(s) - 1
    orders = multistep_orders(steps, order, True, final_zero)
    ms = []
    for i in range(steps):
        d = den(y, i)
        ms.append(d if plus else (y - d) / s[i])
        p = orders[i]
        st, s0 = s[i + 1], s[i]
        if plus:
            r = st / s0
            h = ell(st) - ell(s0)
            em1 = math.expm1(-h) if math.isfinite(h) else -1.0   # e^{-h} - 1
            if p == 1:
                y = r * y - em1 * ms[-1]
            elif p == 2:
                r0 = (ell(s0) - ell(s[i - 1])) / h
                D1 = (ms[-1] - ms[-2]) / r0
                y = r * y - em1 * ms[-1] - 0.5 * em1 * D1
            else:
                h0 = ell(s0) - ell(s[i - 1])
                h1 = ell(s[i - 1]) - ell(s[i - 2])
                r0, r1 = h0 / h, h1 / h
                D1_0 = (ms[-1] - ms[-2]) / r0
                D1_1 = (ms[-2] - ms[-3]) / r1
                D1 = D1_0 + (r0 / (r0 + r1)) * (D1_0 - D1_1)
                D2 = (D1_0 - D1_1) / (r0 + r1)
                y = (r * y - em1 * ms[-1] + (em1 / h + 1.0) * D1
                     - ((em1 + h) / h ** 2 - 0.5) * D2)
        else:
            ds = s0 - st                       # = s_t (e^h - 1)
            if p == 1:
                y = y - ds * ms[-1]
            elif p == 2:
                h = ell(st) - ell(s0)
                r0 = (ell(s0) - ell(s[i - 1])) / h
                D1 = (ms[-1] - ms[-2]) / r0
                y = y - ds * ms[-1] - 0.5 * ds * D1
            else:
                raise NotImplementedError
    return y, steps, orders


def _unipc_coeffs(h, rks, order, predictor):
    """UniPC bh2 with data prediction: returns (h_phi_1, B_h, rhos)."""
    hh = -h
    h_phi_1 = math.expm1(hh) if math.isfinite(hh) else -1.0
    B_h = h_phi_1
    if math.isfinite(hh):
        h_phi_k = h_phi_1 / hh - 1.0
    else:
        h_phi_k = -1.0
    fact = 1
    b = []
    for i in range(1, order + 1):
        b.append(h_phi_k * fact / B_h)
        fact *= i + 1
        h_phi_k = (h_phi_k / hh if math.isfinite(hh) else 0.0) - 1.0 / fact
    rk_all = list(rks) + [1.0]
    R = np.array([[rk ** (i - 1) for rk in rk_all] for i in range(1, order + 1)])
    b = np.array(b)
    if predictor:
        if order == 1:
            rhos = []
        elif order == 2:
            rhos = [0.5]
        else:
            rhos = list(np.linalg.solve(R[:-1, :-1], b[:-1]))
    else:
        rhos = [0.5] if order == 1 else list(np.linalg.solve(R, b))
    return h_phi_1, B_h, rhos


def reimpl_unipc(den, s, y, order):
    """diffusers UniPC (bh2, predict_x0): predictor order min(order, steps left, i + 1); the
    corrector reuses the next evaluation with the previous step's order; no corrector after the
    last step."""
    steps = len(s) - 1
    ms = []
    last_y, last_order = None, None
    orders, corr_orders = [], []
    for i in range(steps):
        d = den(y, i)
        if i > 0:
            p = last_order
            corr_orders.append(p)
            s0, st = s[i - 1], s[i]
            h = ell(st) - ell(s0)
            rks = [(ell(s[i - 1 - k]) - ell(s0)) / h for k in range(1, p)]
            h_phi_1, B_h, rhos = _unipc_coeffs(h, rks, p, predictor=False)
            m0 = ms[-1]
            corr = sum(rhos[k - 1] * (ms[-1 - k] - m0) / rks[k - 1] for k in range(1, p)) \
                if p > 1 else 0.0
            y = (st / s0) * last_y - h_phi_1 * m0 - B_h * (corr + rhos[-1] * (d - m0))
        ms.append(d)
        p = min(order, steps - i, i + 1)
        orders.append(p)
        last_y, last_order = y, p
        s0, st = s[i], s[i + 1]
        h = ell(st) - ell(s0)
        rks = [(ell(s[i - k]) - ell(s0)) / h for k in range(1, p)]
        h_phi_1, B_h, rhos = _unipc_coeffs(h, rks, p, predictor=True)
        pred = sum(rhos[k - 1] * (ms[-1 - k] - ms[-1]) / rks[k - 1] for k in range(1, p)) \
            if p > 1 else 0.0
        y = (st / s0) * y - h_phi_1 * ms[-1] - B_h * pred
    return y, steps, orders, corr_orders


def reimpl_euler(den, s, y):
    for i in range(len(s) - 1):
        d = den(y, i)
        y = y + (y - d) / s[i] * (s[i + 1] - s[i])
    return y, len(s) - 1


def reimpl_heun(den, s, y):
    """EDM Heun; the step into s = 0 is plain Euler. den(y, i) at grid point i."""
    nfe = 0
    for i in range(len(s) - 1):
        d = den(y, i)
        nfe += 1
        k1 = (y - d) / s[i]
        dt = s[i + 1] - s[i]
        if s[i + 1] == 0:
            y = y + k1 * dt
        else:
            y2 = y + k1 * dt
            d2 = den(y2, i + 1)
            nfe += 1
            k2 = (y2 - d2) / s[i + 1]
            y = y + (k1 + k2) / 2 * dt
    return y, nfe


def reimpl_dpm2(D, s, y):
    nfe = 0
    for i in range(len(s) - 1):
        d = D(y, s[i])
        nfe += 1
        k1 = (y - d) / s[i]
        if s[i + 1] == 0:
            y = y + k1 * (s[i + 1] - s[i])
        else:
            sm = math.exp(0.5 * (math.log(s[i]) + math.log(s[i + 1])))
            y2 = y + k1 * (sm - s[i])
            d2 = D(y2, sm)
            nfe += 1
            y = y + (y2 - d2) / sm * (s[i + 1] - s[i])
    return y, nfe


def reimpl_dpmpp_2m(D, s, y):
    old = None
    for i in range(len(s) - 1):
        d = D(y, s[i])
        r = s[i + 1] / s[i]
        if old is None or s[i + 1] == 0:
            y = r * y + (1 - r) * d
        else:
            h = math.log(s[i]) - math.log(s[i + 1])
            h_last = math.log(s[i - 1]) - math.log(s[i])
            rr = h_last / h
            y = r * y + (1 - r) * ((1 + 1 / (2 * rr)) * d - (1 / (2 * rr)) * old)
        old = d
    return y, len(s) - 1


def reimpl_lms(D, s, y, order=4):
    ds = []
    for i in range(len(s) - 1):
        d = D(y, s[i])
        ds.append((y - d) / s[i])
        ds = ds[-order:]
        p = min(i + 1, order)
        nodes = [s[i - k] for k in range(p)]
        for j in range(p):
            L = lagrange_basis(nodes, j)
            y = y + gauss(L, s[i], s[i + 1]) * ds[-1 - j]
    return y, len(s) - 1


# ---------------------------------------------------------------------------------------------

def diffusers_cases():
    """(scheduler class, kwargs, (dode solver, options), spacings, final rule)."""
    trl = ["trailing", "leading"]
    all3 = ["trailing", "leading", "linspace"]
    cases = [
        (DDIMScheduler, dict(clip_sample=False, set_alpha_to_one=True), ("ddim", {}), trl, "zero"),
        (PNDMScheduler, dict(skip_prk_steps=True, set_alpha_to_one=False), ("pndm", {}), trl,
         "sigma_min"),
    ]
    for k in (2, 3):
        cases.append((DEISMultistepScheduler, dict(solver_order=k), ("deis", {"order": k}), all3,
                      "sigma_min"))
    for k in (2, 3):
        cases.append((DPMSolverMultistepScheduler,
                      dict(solver_order=k, algorithm_type="dpmsolver++", final_sigmas_type="zero"),
                      ("dpmpp", {"order": k}), all3, "zero"))
    cases.append((DPMSolverMultistepScheduler,
                  dict(solver_order=2, algorithm_type="dpmsolver", final_sigmas_type="sigma_min"),
                  ("dpm", {"order": 2}), all3, "sigma_min"))
    for k in (2, 3):
        cases.append((UniPCMultistepScheduler,
                      dict(solver_order=k, solver_type="bh2", final_sigmas_type="zero"),
                      ("unipc", {"variant": "bh2", "order": k}), all3, "zero"))
    cases.append((EulerDiscreteScheduler, {}, ("euler", {}), all3, "zero"))
    cases.append((HeunDiscreteScheduler, {}, ("heun", {}), all3, "zero"))
    return cases


DIFFUSERS_NOTES = {
    "DDIMScheduler": "Each step goes from t to t - 1000//N (= the next label for trailing and "
                     "leading with these N); below 0 it uses final_alpha_cumprod = 1 (s = 0).",
    "PNDMScheduler": "skip_prk_steps: scheduler.timesteps repeats the second label. The first "
                     "two model calls form a warm start: eps0 at (x_T, l0); DDIM step to l1 "
                     "with eps0; eps1' at that point; then the step l0 -> l1 is redone from x_T "
                     "with (eps0 + eps1')/2, and eps1' is not kept. Then eps at every label, "
                     "Adams-Bashforth on the kept eps list with fixed weights (3,-1)/2, "
                     "(23,-16,5)/12, (55,-59,37,-9)/24 (weights ignore the step sizes), each "
                     "step a DDIM transfer in eps. Final: t=0's level (alphas_cumprod[0]). With "
                     "leading spacing the last label is 0, so the last step goes from t=0 to "
                     "t=0's level: a zero-length step whose model call is wasted (diffusers "
                     "NFE N+1, dode with final 'none' N, same output).",
    "DEISMultistepScheduler": "logrho DEIS: eps interpolated by a Lagrange polynomial in log s "
                              "over the last p points, integrated exactly over s. Order p = 1 "
                              "at step 0, <= 2 at step 1; when N < 15 the last step is order 1 "
                              "and the second-to-last <= 2. Ends at s(t=0) (sigma_min).",
    "DPMSolverMultistepScheduler": "Multistep, midpoint form. Order 1 at step 0, <= 2 at step 1; "
                                   "the last step is order 1 when N < 15 or when "
                                   "final_sigmas_type='zero' (always, for the step into s=0); "
                                   "second-to-last <= 2 when N < 15. step() casts the state to "
                                   "Float32 before every update (the model outputs stay Float64).",
    "UniPCMultistepScheduler": "bh2 with predict_x0. Predictor order at step i: min(order, N - i, "
                               "i + 1) (lower_order_final acts for every N). The corrector runs "
                               "at every evaluation except the first, with the previous step's "
                               "predictor order, using the new evaluation at the *uncorrected* "
                               "predicted state; the stored model output is that evaluation; the "
                               "last step's prediction is not corrected. Order-2 predictor uses "
                               "rho = 1/2; order-1 corrector uses rho = 1/2; otherwise rhos solve "
                               "the (Float32) linear systems.",
    "EulerDiscreteScheduler": "State in y = x/alpha units (sample = x0 + sigma*noise); "
                              "scale_model_input divides by sqrt(sigma^2+1), i.e. the network "
                              "sees x. init_noise_sigma = sigma_max for linspace/trailing but "
                              "sqrt(sigma_max^2 + 1) for leading (sigma_max = the first label's "
                              "sigma, not s_999). step() casts the state to Float32.",
    "HeunDiscreteScheduler": "State in y units as Euler. scheduler.timesteps = [t0, t1, t1, ..., "
                             "t_{N-1}, t_{N-1}]: Euler predictor to the next level, then the "
                             "average of the two slopes; the step from the last label into "
                             "sigma=0 is plain Euler (NFE 2N-1). init_noise_sigma as Euler.",
}


def build_diffusers(mix, eps, check_log):
    eps_model = make_eps_model(mix)
    out = []
    for cls, kwargs, (solver, options), spacings, final_rule in diffusers_cases():
        for spacing in spacings:
            for n in (5, 10, 20):
                name = cls.__name__
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = run_diffusers(cls, dict(kwargs, timestep_spacing=spacing), n, eps,
                                        eps_model)
                labels = dedup(res["timesteps"])
                final = final_rule
                if final == "sigma_min" and labels[-1] == 0:
                    final = "none"
                fractional = any(isinstance(t, float) for t in labels)
                # grid in s for the float64 re-implementation
                s = [SCHED.s_at(t) for t in labels]
                if final == "zero":
                    s.append(0.0)
                elif final == "sigma_min":
                    s.append(float(SCHED.s[0]))

                def den(yy, i, s=s):
                    return mix.D(yy, s[i])

                euler_like = cls in (EulerDiscreteScheduler, HeunDiscreteScheduler)
                init = res["init_noise_sigma"]
                if euler_like:
                    y0 = eps * init
                    x_T_scale = SCHED.alpha_at(labels[0]) * init
                else:
                    y0 = eps * init / SCHED.alpha_at(labels[0])
                    x_T_scale = init
                extra = {}
                if solver == "ddim":
                    yf, rnfe = reimpl_ddim(den, s, y0)
                elif solver == "pndm":
                    yf, rnfe = reimpl_pndm(den, s, y0)
                elif solver == "deis":
                    yf, rnfe, ords = reimpl_deis(den, s, y0, options["order"])
                    assert ords == res["orders"], (name, spacing, n, ords, res["orders"])
                elif solver in ("dpmpp", "dpm"):
                    yf, rnfe, ords = reimpl_dpm_multistep(den, s, y0, options["order"],
                                                          solver == "dpmpp", final == "zero")
                    assert ords == res["orders"], (name, spacing, n, ords, res["orders"])
                elif solver == "unipc":
                    yf, rnfe, ords, cords = reimpl_unipc(den, s, y0, options["order"])
                    assert ords == res["orders"], (ords, res["orders"])
                    assert cords == res["correctors"], (cords, res["correctors"])
                elif solver == "euler":
                    yf, rnfe = reimpl_euler(den, s, y0)
                elif solver == "heun":
                    yf, rnfe = reimpl_heun(den, s, y0)
                else:
                    raise AssertionError(solver)
                # back to the fixture's output space (x for VP schedulers)
                if euler_like or final == "zero":
                    xf = yf
                elif final == "sigma_min":
                    xf = yf * math.sqrt(SCHED.abar[0])
                else:
                    xf = yf * SCHED.alpha_at(labels[-1])
                diff = float((xf - res["output"]).abs().max())
                case_id = f"diffusers/{name}/{solver}{options.get('order', '')}/{spacing}/N{n}"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res64 = run_diffusers(cls, dict(kwargs, timestep_spacing=spacing), n, eps,
                                          eps_model, float64=True)
                diff64 = float((xf - res64["output"]).abs().max())
                check_log.append((case_id, diff, res["nfe"], rnfe, diff64))
                assert diff < 1e-4, (case_id, diff)
                assert diff64 < 1e-11, (case_id, diff64)
                if solver == "pndm" and final == "none":
                    # dode: N-1 steps + the warm-start re-evaluation; diffusers also calls the
                    # model for its zero-length last step
                    assert res["nfe"] == rnfe + 1, (case_id, res["nfe"], rnfe)
                else:
                    assert res["nfe"] == rnfe, (case_id, res["nfe"], rnfe)
                expected_nfe = rnfe
                grid = {"kind": "timesteps", "labels": labels, "final": final}
                if euler_like:
                    grid["sigmas"] = res["sigmas"]
                case = {
                    "id": case_id,
                    "library": "diffusers",
                    "scheduler": name,
                    "num_inference_steps": n,
                    "timestep_spacing": spacing,
                    "config": res["config"],
                    "dode": {"solver": solver, "options": options},
                    "grid": grid,
                    "scheduler_timesteps": res["timesteps"],
                    "scheduler_sigmas": res["sigmas"],
                    "init_noise_sigma": init,
                    "start": ({"space": "y",
                               "formula": "y_T = eps * init_noise_sigma (y = x/alpha at the first "
                                          "label); in dode's VP space x_T = eps * x_T_scale",
                               "x_T_scale": x_T_scale}
                              if euler_like else
                              {"space": "x", "formula": "x_T = eps * init_noise_sigma",
                               "x_T_scale": x_T_scale}),
                    "output_space": ("y at s = 0, which equals x (alpha = 1)" if euler_like
                                     else "x"),
                    "nfe": res["nfe"],
                    "dode_nfe": expected_nfe,
                    "notes": DIFFUSERS_NOTES[name],
                    "float64_reimpl_max_abs_diff": diff,
                    "float64_patched_diffusers_max_abs_diff": diff64,
                    "output": res["output"],
                    "output_float64": res64["output"],
                }
                if fractional:
                    case["fractional_labels"] = True
                    case["label_interpolation"] = ("s linear in t between integer labels, "
                                                   "alpha = 1/sqrt(1+s^2) (what the scheduler "
                                                   "does to build its sigmas)")
                if res["orders"] is not None:
                    case["step_orders"] = res["orders"]
                if res["correctors"] is not None:
                    case["corrector_orders"] = res["correctors"]
                out.append(case)
    return out


K_SAMPLERS = [
    ("sample_euler", {}, ("euler", {})),
    ("sample_heun", {}, ("heun", {})),
    ("sample_dpmpp_2m", {}, ("dpmpp", {"order": 2})),
    ("sample_lms", {"order": 4}, ("lms", {"order": 4})),
    ("sample_dpm_2", {}, ("dpm2", {})),
]


def build_k(mix, eps, ks, check_log):
    out = []
    for n in (5, 10, 20):
        with default_dtype(F64):
            sigmas = ks.get_sigmas_karras(n, sigma_min=0.002, sigma_max=80.0, rho=7.0)
        assert sigmas.dtype == F64
        s = [float(v) for v in sigmas]
        for fname, args, (solver, options) in K_SAMPLERS:
            model = Counter(lambda y, sigma: mix.D(y, sigma))
            y0 = eps * 80.0
            with default_dtype(F64):
                yk = getattr(ks, fname)(model, y0.clone(), sigmas, disable=True, **args)
            D = mix.D
            if solver == "euler":
                yr, rnfe = reimpl_euler(lambda yy, i: D(yy, s[i]), s, y0)
            elif solver == "heun":
                yr, rnfe = reimpl_heun(lambda yy, i: D(yy, s[i]), s, y0)
            elif solver == "dpmpp":
                yr, rnfe = reimpl_dpmpp_2m(D, s, y0)
            elif solver == "lms":
                yr, rnfe = reimpl_lms(D, s, y0, 4)
            else:
                yr, rnfe = reimpl_dpm2(D, s, y0)
            rel = float((yr - yk).abs().max() / yk.abs().max())
            case_id = f"k-diffusion/{fname}/karras/N{n}"
            check_log.append((case_id, rel, model.n, rnfe, None))
            assert rel < 1e-12, (case_id, rel)
            assert model.n == rnfe, (case_id, model.n, rnfe)
            out.append({
                "id": case_id,
                "library": "k-diffusion",
                "sampler": fname,
                "arguments": dict(args, disable=True),
                "dode": {"solver": solver, "options": options},
                "grid": {"kind": "karras", "n": n, "sigma_min": 0.002, "sigma_max": 80.0,
                         "rho": 7.0, "final": "zero"},
                "sigmas": s,
                "start": {"space": "y", "formula": "y_T = 80 * eps", "x_T_scale": 80.0},
                "output_space": "y (EDM/VE: alpha = 1)",
                "nfe": model.n,
                "dode_nfe": rnfe,
                "float64_reimpl_max_rel_diff": rel,
                "output": yk,
            })
    return out


def tensors_to_lists(obj):
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, dict):
        return {k: tensors_to_lists(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [tensors_to_lists(v) for v in obj]
    return obj


def ddim_sanity(mix, eps):
    """Check (1): own Float64 DDIM (y' = r y + (1-r) D) vs diffusers DDIM on the same labels."""
    eps_model = make_eps_model(mix)
    worst = 0.0
    for spacing in ("trailing", "leading"):
        for n in (5, 10, 20):
            res = run_diffusers(DDIMScheduler, dict(clip_sample=False, set_alpha_to_one=True,
                                                    timestep_spacing=spacing), n, eps, eps_model)
            labels = dedup(res["timesteps"])
            s = [SCHED.s_at(t) for t in labels] + [0.0]
            y = eps / SCHED.alpha_at(labels[0])
            for i in range(n):
                d = mix.D(y, s[i])
                r = s[i + 1] / s[i]
                y = r * y + (1 - r) * d
            worst = max(worst, float((y - res["output"]).abs().max()))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mixtures", default=None, help="directory of mixture JSON files")
    ap.add_argument("--out", default=str(REPO / "Tests" / "Fixtures" / "solvers"))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed-base", type=int, default=20240)
    args = ap.parse_args()

    mix_dir = pathlib.Path(args.mixtures) if args.mixtures else None
    if mix_dir is None:
        for cand in (REPO.parent / "shared" / "data" / "mixtures",
                     REPO / "shared" / "data" / "mixtures"):
            if cand.is_dir():
                mix_dir = cand
                break
    if mix_dir is None or not mix_dir.is_dir():
        sys.exit("cannot find shared/data/mixtures; pass --mixtures DIR")
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    ks, how = load_k_sampling()
    versions = (f"Scripts/make_solver_fixtures.py; python {sys.version.split()[0]}, "
                f"torch {torch.__version__}, diffusers {diffusers.__version__}, "
                f"k-diffusion {dist_version('k-diffusion')} ({how}), numpy {np.__version__}, "
                f"scipy {dist_version('scipy')}")
    print(versions)

    for path in sorted(mix_dir.glob("*.json")):
        mix = Mixture(path)
        seed = args.seed_base + int(mix.raw.get("seed", 0))
        g = torch.Generator().manual_seed(seed)
        eps = torch.randn(args.batch, mix.dim, generator=g, dtype=F64)
        checks = []
        worst_ddim = ddim_sanity(mix, eps)
        cases = build_diffusers(mix, eps, checks) + build_k(mix, eps, ks, checks)
        doc = {
            "mixture": mix.name,
            "mixture_file": f"shared/data/mixtures/{path.name}",
            "mixture_data": {"weights": mix.raw["weights"], "means": mix.raw["means"],
                             "stds": mix.raw["stds"],
                             "note": "weights are normalised by their sum before use"},
            "dim": mix.dim,
            "batch": args.batch,
            "seed": seed,
            "eps": eps,
            "schedule": {"kind": "ddpm_linear", "num_train_timesteps": 1000,
                         "beta_start": 0.0001, "beta_end": 0.02,
                         "model": "epsilon prediction from the exact Float64 schedule: "
                                  "alpha = sqrt(alphas_cumprod[t]), s = sqrt(1-abar)/sqrt(abar), "
                                  "y = x_in/alpha, eps = (y - D(y, s))/s"},
            "generator": versions,
            "sanity": {"ddim_float64_vs_diffusers_max_abs": worst_ddim},
            "cases": cases,
        }
        text = json.dumps(tensors_to_lists(doc), allow_nan=False, separators=(",", ":"))
        target = out_dir / f"{mix.name}.json"
        target.write_text(text + "\n")
        print(f"{target}: {len(cases)} cases, {len(text) / 1e6:.2f} MB; "
              f"DDIM float64 vs diffusers max abs {worst_ddim:.3g}")
        for case_id, diff, nfe, rnfe, diff64 in checks:
            extra = "" if diff64 is None else f"  float64-patched diff {diff64:.3g}"
            print(f"  {case_id:60s} nfe {nfe:3d} (dode {rnfe:3d})  diff {diff:.3g}{extra}")


if __name__ == "__main__":
    main()
