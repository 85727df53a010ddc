"""Generate OptGen's optimizer conformance cases (JSON, one file per case).

Run with Debian's own interpreter and Debian's PyTorch (1.13.1):

    apt-get install -y python3-torch python3-numpy
    /usr/bin/python3 tools/reference/generate_conformance.py [--out DIR] [--check-examples DIR]

It writes one ``<case name>.json`` per case into ``tests/conformance/cases/`` (relative to the
repository root; ``--out`` overrides).  The format is the contract in
``shared/conformance/SCHEMA.md``: compact single-line JSON with the fields ``name, description,
optimizer, reference, hyperparameters, dtype, n, T, [lr_per_step], p0, grads,
params_after_each_step, [rtol]``; float32 values are written in their shortest round-trip form.
Re-running gives byte-identical files (every case draws its data from a NumPy ``RandomState``
seeded with the CRC-32 of its name, and torch runs single-threaded on the CPU).

Where the references come from:

* PyTorch names (SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, RAdam, Adadelta): ``torch.optim``
  1.13.1 on the CPU, float32, ``foreach=False`` (the single-tensor code path).  Per step t the
  parameter's ``.grad`` is set to ``grads[t-1]``, ``group['lr']`` to ``lr_per_step[t-1]`` when the
  case has a schedule, then ``opt.step()`` is called and the parameter recorded.  For these
  optimizers the 1.13.1 single-tensor math is the same as PyTorch 2.x for every key SCHEMA lists.
* NAdam: PyTorch 1.13.1 has a bug that PyTorch 2.0 fixed (pytorch/pytorch#92699):
  ``mu_product_next = mu_product * mu * mu_next`` multiplies ``mu`` twice (``mu_product`` was
  already updated).  SCHEMA asks for 2.x semantics (``mu_product_next = mu_product * mu_next``),
  so NAdam cases come from a float64 NumPy implementation of the 2.x single-tensor formula.  That
  implementation is validated here against torch 1.13.1 by switching the bug back on.
* NAdam and RAdam with ``decoupled_weight_decay: true`` (PyTorch >= 2.1, the rule PyTorch calls
  NAdamW/RAdamW: ``param.mul_(1 - lr * weight_decay)`` before the update, which then uses the raw
  gradient): Debian's torch 1.13.1 has no such argument, so these cases come from the float64
  NumPy formula as well (``ref_NAdam``/``ref_RAdam`` with the flag).  It is validated against
  torch 1.13.1 run with ``weight_decay=0`` and ``p.mul_(1 - lr * weight_decay)`` done by hand
  before every ``step()``, which is what 2.1's decoupled branch does (NAdam with the 1.13.1 bug
  switched back on, as above).
* Lecture forms (classic_momentum, ema_momentum, rmsprop_eps_inside, rmsprop_eps_outside,
  adam_min_t, adam_decoupled_eps, adagrad_rms, rmsprop_alpha): float64 NumPy implementations of
  the SCHEMA formula table.  State is kept in float64; the parameter is rounded to float32 after
  every step (it is stored as float32), and the gradients are the float32 values in the file.
  When a case has ``lr_per_step``, ``lr_per_step[t-1]`` takes the place of the step size
  (``eta``, ``eta_prime`` or ``eta0``) at step t.

Self-checks made on every run (the script stops if one fails):

* every PyTorch case is compared with a float64 implementation of the same PyTorch formula, and
  every float64-reference case with a float32 emulation of its formula; the measured
  ``max|diff| / max|p_ref|`` must stay below ``rtol / 3`` (rtol 5e-6 when the case has none),
  so an independent float32 implementation has room for its own rounding;
* shapes (``len(grads) == T``, every row of length ``n``) and finite values.

``--check-examples DIR`` additionally re-computes the example cases of ``DIR`` (the files in
``shared/conformance/examples``) with the torch runner or the float64 references and prints the
largest differences.
"""

import argparse
import json
import math
import os
import sys
import zlib

import numpy as np
import torch

F32 = np.float32
F64 = np.float64

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "conformance", "cases")
DEFAULT_RTOL = 5e-6
TORCH_REF = "torch 1.13.1 torch.optim.{} (CPU, float32, foreach=False, single-tensor code path)"

# Hyperparameter keys and defaults, in SCHEMA.md order.  Defaults are PyTorch's (SGD's lr has
# none; the cases always give it).  Lecture forms have no defaults: every case names them all.
TORCH_KEYS = {
    "SGD": dict(lr=None, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False),
    "Adam": dict(lr=0.001, betas=[0.9, 0.999], eps=1e-08, weight_decay=0, amsgrad=False,
                 maximize=False),
    "AdamW": dict(lr=0.001, betas=[0.9, 0.999], eps=1e-08, weight_decay=0.01, amsgrad=False,
                  maximize=False),
    "RMSprop": dict(lr=0.01, alpha=0.99, eps=1e-08, weight_decay=0, momentum=0, centered=False,
                    maximize=False),
    "Adagrad": dict(lr=0.01, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                    maximize=False),
    "Adamax": dict(lr=0.002, betas=[0.9, 0.999], eps=1e-08, weight_decay=0, maximize=False),
    "NAdam": dict(lr=0.002, betas=[0.9, 0.999], eps=1e-08, weight_decay=0, momentum_decay=0.004),
    "RAdam": dict(lr=0.001, betas=[0.9, 0.999], eps=1e-08, weight_decay=0),
    "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-06, weight_decay=0, maximize=False),
}
# torch >= 2.1 arguments that SCHEMA does not list and torch 1.13.1 lacks: a case names them only
# when it uses them (its reference is then the float64 formula).
OPTIONAL_TORCH_KEYS = {
    "NAdam": dict(decoupled_weight_decay=False),
    "RAdam": dict(decoupled_weight_decay=False),
}
LECTURE_KEYS = {
    "classic_momentum": ["N", "eta"],
    "ema_momentum": ["N", "eta_prime"],
    "rmsprop_eps_inside": ["Ns", "eta", "eps"],
    "rmsprop_eps_outside": ["Ns", "eta", "eps"],
    "adam_min_t": ["Ng", "Ns", "eta", "eps"],
    "adam_decoupled_eps": ["Ng", "Ns", "eta0", "eps"],
    "adagrad_rms": ["eta"],
    "rmsprop_alpha": ["alpha", "eta"],
}
# The key that lr_per_step replaces, per lecture form.
LECTURE_LR_KEY = {
    "classic_momentum": "eta", "ema_momentum": "eta_prime", "rmsprop_eps_inside": "eta",
    "rmsprop_eps_outside": "eta", "adam_min_t": "eta", "adam_decoupled_eps": "eta0",
    "adagrad_rms": "eta", "rmsprop_alpha": "eta",
}


def lr_key(optimizer):
    return LECTURE_LR_KEY.get(optimizer, "lr")


# ----------------------------------------------------------------------------------------------
# Learning-rate schedules for lr_per_step (evaluated in Python doubles; t = 1..T)
# ----------------------------------------------------------------------------------------------

def warmup_cosine(base, T, warmup):
    """Linear warm-up to `base` over `warmup` steps, then cosine to 0 at step T."""
    out = []
    for t in range(1, T + 1):
        if t <= warmup:
            f = t / warmup
        else:
            f = 0.5 * (1.0 + math.cos(math.pi * (t - warmup) / (T - warmup)))
        out.append(base * f)
    return out


def step_decay(base, T, every, gamma):
    """base * gamma ** floor((t - 1) / every)."""
    return [base * gamma ** ((t - 1) // every) for t in range(1, T + 1)]


SCHEDULE_TEXT = {
    "warmup_cosine": "lr_t = lr*t/{warmup} for t <= {warmup}, then "
                     "lr*(1 + cos(pi*(t-{warmup})/(T-{warmup})))/2",
    "step_decay": "lr_t = lr * {gamma} ** floor((t-1)/{every})",
}


def make_schedule(spec, base, T):
    kind = spec["kind"]
    if kind == "warmup_cosine":
        return warmup_cosine(base, T, spec["warmup"])
    if kind == "step_decay":
        return step_decay(base, T, spec["every"], spec["gamma"])
    raise ValueError(kind)


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------

def make_data(name, n, T, gscale=1.0, pscale=1.0, zeros=False, decay=None):
    """Seeded p0 ~ N(0,1)*pscale and grads ~ N(0,1)*gscale as float32.

    zeros: every element with index % 5 == 2 is zero at every step, and the steps
      1, 4, 5 and T//2 are all zero.
    decay: the gradients of step t are multiplied by a factor going linearly from 1 to `decay`
      (so the running maxima of AMSGrad and Adamax stay above the current values).
    """
    rng = np.random.RandomState(zlib.crc32(name.encode("utf-8")))
    p0 = (rng.standard_normal(n) * pscale).astype(F32)
    g = rng.standard_normal((T, n))
    if decay is not None:
        g = g * np.linspace(1.0, decay, T)[:, None]
    g = (g * gscale).astype(F32)
    if zeros:
        if n > 1:
            g[:, np.arange(n) % 5 == 2] = 0
        for t in sorted({1, 4, 5, T // 2}):
            g[t - 1, :] = 0
    return p0, g


def describe_data(c):
    parts = [f"n={c['n']}, T={c['T']}"]
    ps, gs = c.get("pscale", 1.0), c.get("gscale", 1.0)
    parts.append("p0 ~ N(0,1)" + (f"*{ps:g}" if ps != 1.0 else ""))
    gd = "grads ~ N(0,1)" + (f"*{gs:g}" if gs != 1.0 else "")
    if c.get("decay") is not None:
        gd += f" with an envelope falling linearly from 1 to {c['decay']:g}"
    parts.append(gd)
    if c.get("zeros"):
        parts.append("every 5th element (index % 5 == 2) always zero and steps 1, 4, 5 and T/2 "
                     "all zero")
    return "; ".join(parts)


# ----------------------------------------------------------------------------------------------
# PyTorch runner
# ----------------------------------------------------------------------------------------------

def run_torch(optimizer, hp, p0, grads, lrs):
    cls = getattr(torch.optim, optimizer)
    kwargs = dict(hp)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    kwargs["foreach"] = False
    param = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float32))
    opt = cls([param], **kwargs)
    out = np.empty_like(grads)
    for t in range(grads.shape[0]):
        param.grad = torch.tensor(grads[t], dtype=torch.float32)
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[t]
        opt.step()
        out[t] = param.detach().numpy()
    return out


# ----------------------------------------------------------------------------------------------
# NumPy references.  dt = float64: state in float64, p rounded to float32 after every step (the
# stored references).  dt = float32: every operation in float32 with float32-cast scalars, in
# PyTorch's operation order (an emulation used only to measure float32 rounding).
# ----------------------------------------------------------------------------------------------

class Stepper:
    # True: p is rounded to float32 after every step (what the stored cases use, because the
    # optimizer keeps p in float32).  check_examples() also tries False (p kept in float64 and
    # rounded only when recorded), which is how shared/conformance/examples was made.
    round_p_each_step = True

    def __init__(self, p0, grads, lrs, base_lr, dt):
        self.dt = dt
        self.p = p0.astype(dt)
        self.grads = grads
        self.T = grads.shape[0]
        self.lrs = lrs if lrs is not None else [base_lr] * self.T
        self.out = np.empty_like(grads)

    def c(self, x):
        """A Python double as a scalar of the working type (torch casts scalars to float32)."""
        return self.dt(x)

    def g(self, t):
        return self.grads[t].astype(self.dt)

    def store(self, t):
        if Stepper.round_p_each_step:
            self.p = self.p.astype(F32).astype(self.dt)
        self.out[t] = self.p.astype(F32)


def ref_SGD(hp, p0, grads, lrs, dt):
    s = Stepper(p0, grads, lrs, hp["lr"], dt)
    c = s.c
    buf = None
    for t in range(s.T):
        g = s.g(t)
        if hp["maximize"]:
            g = -g
        if hp["weight_decay"] != 0:
            g = g + c(hp["weight_decay"]) * s.p
        if hp["momentum"] != 0:
            if buf is None:
                buf = g.copy()
            else:
                buf = buf * c(hp["momentum"]) + g * c(1 - hp["dampening"])
            g = g + c(hp["momentum"]) * buf if hp["nesterov"] else buf
        s.p = s.p + c(-s.lrs[t]) * g
        s.store(t)
    return s.out


def _adam_like(hp, p0, grads, lrs, dt, decoupled):
    s = Stepper(p0, grads, lrs, hp["lr"], dt)
    c = s.c
    b1, b2 = hp["betas"]
    m = np.zeros_like(s.p)
    v = np.zeros_like(s.p)
    vmax = np.zeros_like(s.p)
    for t in range(s.T):
        step = t + 1
        lr = s.lrs[t]
        g = s.g(t)
        if hp["maximize"]:
            g = -g
        if decoupled:
            s.p = s.p * c(1 - lr * hp["weight_decay"])
        elif hp["weight_decay"] != 0:
            g = g + c(hp["weight_decay"]) * s.p
        m = m * c(b1) + g * c(1 - b1)
        v = v * c(b2) + (g * g) * c(1 - b2)
        bc1 = 1 - b1 ** step
        bc2 = 1 - b2 ** step
        step_size = lr / bc1
        if hp["amsgrad"]:
            vmax = np.maximum(vmax, v)
            denom = np.sqrt(vmax) / c(math.sqrt(bc2)) + c(hp["eps"])
        else:
            denom = np.sqrt(v) / c(math.sqrt(bc2)) + c(hp["eps"])
        s.p = s.p + c(-step_size) * (m / denom)
        s.store(t)
    return s.out


def ref_Adam(hp, p0, grads, lrs, dt):
    return _adam_like(hp, p0, grads, lrs, dt, decoupled=False)


def ref_AdamW(hp, p0, grads, lrs, dt):
    return _adam_like(hp, p0, grads, lrs, dt, decoupled=True)


def ref_RMSprop(hp, p0, grads, lrs, dt):
    s = Stepper(p0, grads, lrs, hp["lr"], dt)
    c = s.c
    alpha = hp["alpha"]
    sq = np.zeros_like(s.p)
    ga = np.zeros_like(s.p)
    buf = np.zeros_like(s.p)
    for t in range(s.T):
        g = s.g(t)
        if hp["maximize"]:
            g = -g
        if hp["weight_decay"] != 0:
            g = g + c(hp["weight_decay"]) * s.p
        sq = sq * c(alpha) + (g * g) * c(1 - alpha)
        if hp["centered"]:
            ga = ga * c(alpha) + g * c(1 - alpha)
            avg = np.sqrt(sq - ga * ga)
        else:
            avg = np.sqrt(sq)
        avg = avg + c(hp["eps"])
        if hp["momentum"] > 0:
            buf = buf * c(hp["momentum"]) + g / avg
            s.p = s.p + c(-s.lrs[t]) * buf
        else:
            s.p = s.p + c(-s.lrs[t]) * (g / avg)
        s.store(t)
    return s.out


def ref_Adagrad(hp, p0, grads, lrs, dt):
    s = Stepper(p0, grads, lrs, hp["lr"], dt)
    c = s.c
    acc = np.full_like(s.p, c(hp["initial_accumulator_value"]))
    for t in range(s.T):
        step = t + 1
        g = s.g(t)
        if hp["maximize"]:
            g = -g
        if hp["weight_decay"] != 0:
            g = g + c(hp["weight_decay"]) * s.p
        clr = s.lrs[t] / (1 + (step - 1) * hp["lr_decay"])
        acc = acc + g * g
        std = np.sqrt(acc) + c(hp["eps"])
        s.p = s.p + c(-clr) * (g / std)
        s.store(t)
    return s.out


def ref_Adamax(hp, p0, grads, lrs, dt):
    s = Stepper(p0, grads, lrs, hp["lr"], dt)
    c = s.c
    b1, b2 = hp["betas"]
    m = np.zeros_like(s.p)
    u = np.zeros_like(s.p)
    for t in range(s.T):
        step = t + 1
        g = s.g(t)
        if hp["maximize"]:
            g = -g
        if hp["weight_decay"] != 0:
            g = g + c(hp["weight_decay"]) * s.p
        m = m * c(b1) + g * c(1 - b1)
        u = np.maximum(u * c(b2), np.abs(g) + c(hp["eps"]))
        clr = s.lrs[t] / (1 - b1 ** step)
        s.p = s.p + c(-clr) * (m / u)
        s.store(t)
    return s.out


def weight_decay(s, hp, lr, g):
    """NAdam's and RAdam's weight decay: L2 (g + wd*p), or with decoupled_weight_decay (torch
    >= 2.1) p <- p*(1 - lr*wd) in place, the factor a Python double cast to the working type as
    torch casts it, and g unchanged.  Returns the gradient the update uses."""
    wd = hp["weight_decay"]
    if wd == 0:
        return g
    if hp.get("decoupled_weight_decay", False):
        s.p = s.p * s.c(1 - lr * wd)
        return g
    return g + s.c(wd) * s.p


def ref_NAdam(hp, p0, grads, lrs, dt, torch113_bug=False):
    """PyTorch 2.x NAdam (single tensor).  torch113_bug=True reproduces 1.13.1's
    mu_product_next = mu_product * mu * mu_next (used only to validate this function)."""
    s = Stepper(p0, grads, lrs, hp["lr"], dt)
    c = s.c
    b1, b2 = hp["betas"]
    md = hp["momentum_decay"]
    m = np.zeros_like(s.p)
    v = np.zeros_like(s.p)
    mu_product = dt(1.0)  # torch keeps it in a float32 tensor; the float64 reference in float64
    for t in range(s.T):
        step = t + 1
        lr = s.lrs[t]
        g = weight_decay(s, hp, lr, s.g(t))
        bc2 = 1 - b2 ** step
        mu = b1 * (1.0 - 0.5 * (0.96 ** (step * md)))
        mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * md)))
        mu_product = dt(mu_product * c(mu))
        mp = float(mu_product)
        mu_product_next = mp * mu * mu_next if torch113_bug else mp * mu_next
        m = m * c(b1) + g * c(1 - b1)
        v = v * c(b2) + (g * g) * c(1 - b2)
        denom = np.sqrt(v / c(bc2)) + c(hp["eps"])
        s.p = s.p + c(-lr * (1.0 - mu) / (1.0 - mp)) * (g / denom)
        s.p = s.p + c((-lr * mu_next) / (1.0 - mu_product_next)) * (m / denom)
        s.store(t)
    return s.out


def radam_rho(beta2, step):
    rho_inf = 2 / (1 - beta2) - 1
    return rho_inf, rho_inf - 2 * step * (beta2 ** step) / (1 - beta2 ** step)


def ref_RAdam(hp, p0, grads, lrs, dt):
    s = Stepper(p0, grads, lrs, hp["lr"], dt)
    c = s.c
    b1, b2 = hp["betas"]
    m = np.zeros_like(s.p)
    v = np.zeros_like(s.p)
    for t in range(s.T):
        step = t + 1
        lr = s.lrs[t]
        g = weight_decay(s, hp, lr, s.g(t))
        m = m * c(b1) + g * c(1 - b1)
        v = v * c(b2) + (g * g) * c(1 - b2)
        bc1 = 1 - b1 ** step
        bc2 = 1 - b2 ** step
        mhat = m / c(bc1)
        rho_inf, rho_t = radam_rho(b2, step)
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = c(math.sqrt(bc2)) / (np.sqrt(v) + c(hp["eps"]))
            s.p = s.p - ((mhat * c(lr)) * adaptive) * c(rect)
        else:
            s.p = s.p - mhat * c(lr)
        s.store(t)
    return s.out


def ref_Adadelta(hp, p0, grads, lrs, dt):
    s = Stepper(p0, grads, lrs, hp["lr"], dt)
    c = s.c
    rho, eps = hp["rho"], hp["eps"]
    sq = np.zeros_like(s.p)
    acc = np.zeros_like(s.p)
    for t in range(s.T):
        g = s.g(t)
        if hp["maximize"]:
            g = -g
        if hp["weight_decay"] != 0:
            g = g + c(hp["weight_decay"]) * s.p
        sq = sq * c(rho) + (g * g) * c(1 - rho)
        std = np.sqrt(sq + c(eps))
        delta = (np.sqrt(acc + c(eps)) / std) * g
        acc = acc * c(rho) + (delta * delta) * c(1 - rho)
        s.p = s.p + c(-s.lrs[t]) * delta
        s.store(t)
    return s.out


# ---- lecture forms ----------------------------------------------------------------------------

def _safe_div(num, den):
    """num / den elementwise with 0/0 := 0 (den == 0 only where num == 0 in these forms)."""
    out = np.zeros_like(num)
    nz = den != 0
    out[nz] = num[nz] / den[nz]
    return out


def ref_classic_momentum(hp, p0, grads, lrs, dt):
    s = Stepper(p0, grads, lrs, hp["eta"], dt)
    c = s.c
    v = np.zeros_like(s.p)
    for t in range(s.T):
        v = c(1 - 1 / hp["N"]) * v + c(s.lrs[t]) * s.g(t)
        s.p = s.p - v
        s.store(t)
    return s.out


def ref_ema_momentum(hp, p0, grads, lrs, dt):
    s = Stepper(p0, grads, lrs, hp["eta_prime"], dt)
    c = s.c
    mu = np.zeros_like(s.p)
    for t in range(s.T):
        mu = c(1 - 1 / hp["N"]) * mu + c(1 / hp["N"]) * s.g(t)
        s.p = s.p - c(s.lrs[t]) * mu
        s.store(t)
    return s.out


def _rmsprop_lecture(hp, p0, grads, lrs, dt, inside):
    s = Stepper(p0, grads, lrs, hp["eta"], dt)
    c = s.c
    sq = np.zeros_like(s.p)
    for t in range(s.T):
        g = s.g(t)
        sq = c(1 - 1 / hp["Ns"]) * sq + c(1 / hp["Ns"]) * (g * g)
        den = np.sqrt(sq + c(hp["eps"])) if inside else np.sqrt(sq) + c(hp["eps"])
        s.p = s.p - c(s.lrs[t]) * g / den
        s.store(t)
    return s.out


def ref_rmsprop_eps_inside(hp, p0, grads, lrs, dt):
    return _rmsprop_lecture(hp, p0, grads, lrs, dt, inside=True)


def ref_rmsprop_eps_outside(hp, p0, grads, lrs, dt):
    return _rmsprop_lecture(hp, p0, grads, lrs, dt, inside=False)


def _adam_min_t_like(hp, p0, grads, lrs, dt, decoupled):
    s = Stepper(p0, grads, lrs, hp["eta0" if decoupled else "eta"], dt)
    c = s.c
    m = np.zeros_like(s.p)
    sq = np.zeros_like(s.p)
    eps = hp["eps"]
    for t in range(s.T):
        step = t + 1
        g = s.g(t)
        cg = 1 / min(step, hp["Ng"])
        cs = 1 / min(step, hp["Ns"])
        m = c(1 - cg) * m + c(cg) * g
        sq = c(1 - cs) * sq + c(cs) * (g * g)
        if decoupled:
            s.p = s.p - c(s.lrs[t]) * m / (c(1) + np.sqrt(sq) / c(eps))
        else:
            s.p = s.p - c(s.lrs[t]) * m / (np.sqrt(sq) + c(eps))
        s.store(t)
    return s.out


def ref_adam_min_t(hp, p0, grads, lrs, dt):
    return _adam_min_t_like(hp, p0, grads, lrs, dt, decoupled=False)


def ref_adam_decoupled_eps(hp, p0, grads, lrs, dt):
    return _adam_min_t_like(hp, p0, grads, lrs, dt, decoupled=True)


def ref_adagrad_rms(hp, p0, grads, lrs, dt):
    s = Stepper(p0, grads, lrs, hp["eta"], dt)
    c = s.c
    S = np.zeros_like(s.p)
    for t in range(s.T):
        step = t + 1
        g = s.g(t)
        S = S + g * g
        sigma = np.sqrt(S / c(step))
        s.p = s.p - c(s.lrs[t]) * _safe_div(g, sigma)
        s.store(t)
    return s.out


def ref_rmsprop_alpha(hp, p0, grads, lrs, dt):
    s = Stepper(p0, grads, lrs, hp["eta"], dt)
    c = s.c
    a = hp["alpha"]
    sigma = None
    for t in range(s.T):
        g = s.g(t)
        if sigma is None:
            sigma = np.abs(g)
        else:
            sigma = np.sqrt(c(a) * sigma * sigma + c(1 - a) * (g * g))
        s.p = s.p - c(s.lrs[t]) * _safe_div(g, sigma)
        s.store(t)
    return s.out


REFERENCES = {name[4:]: fn for name, fn in globals().items() if name.startswith("ref_")}

# Optimizers whose stored reference is the float64 formula (not torch 1.13.1).
FLOAT64_REFERENCE = set(LECTURE_KEYS) | {"NAdam"}


def float64_reference(optimizer, hp):
    """Whether the stored reference is the float64 formula: the optimizer's, or a torch >= 2.1
    argument that torch 1.13.1 lacks."""
    return optimizer in FLOAT64_REFERENCE or bool(hp.get("decoupled_weight_decay", False))


def reference_text(optimizer, has_schedule, hp=None):
    if hp is not None and hp.get("decoupled_weight_decay", False):
        return (f"numpy float64 reference of the PyTorch >= 2.1 {optimizer}(decoupled_weight_decay="
                "True) single-tensor formula (p <- p*(1 - lr*weight_decay) before the update, which "
                "uses the raw gradient; Debian's torch 1.13.1 has no decoupled_weight_decay"
                + ("; mu_product_next = mu_product * mu_next as in 2.x" if optimizer == "NAdam" else "")
                + "), parameter rounded to float32 after every step")
    if optimizer == "NAdam":
        return ("numpy float64 reference of the PyTorch 2.x NAdam single-tensor formula "
                "(mu_product_next = mu_product * mu_next; torch 1.13.1 multiplies mu twice, "
                "fixed in pytorch/pytorch#92699), parameter rounded to float32 after every step")
    if optimizer in LECTURE_KEYS:
        return f"numpy float64 reference of {optimizer} (lecture formula)"
    text = TORCH_REF.format(optimizer)
    if has_schedule:
        text += "; group['lr'] set to lr_per_step[t-1] before step t"
    return text


# ----------------------------------------------------------------------------------------------
# The cases
# ----------------------------------------------------------------------------------------------

def C(name, optimizer, desc, hp=None, n=29, T=40, **kw):
    case = dict(name=name, optimizer=optimizer, desc=desc, hp=hp or {}, n=n, T=T)
    case.update(kw)
    return case


WC = dict(kind="warmup_cosine", warmup=10)
SD = dict(kind="step_decay", every=15, gamma=0.5)
# Per-step scalars that torch rounds to float32 and that compound multiplicatively on p
# (AdamW's factor 1 - lr*wd) need a looser tolerance; the reason goes into the description.
ADAMW_RTOL = ("rtol {rtol:g}: p is multiplied every step by (1 - lr*weight_decay) = 0.99999, which "
              "torch rounds to float32; that rounding (up to 3e-8 relative) compounds over the "
              "100 steps independently of the update, and torch differs from the exact float64 "
              "formula by 2.8e-6 relative to max|p| here, too close to the default 5e-6")


def cases():
    L = []
    # ---------------- SGD ----------------
    L += [
        C("sgd_plain", "SGD", "SGD lr 0.1, no momentum", dict(lr=0.1)),
        C("sgd_momentum", "SGD", "SGD heavy-ball momentum 0.9 (buffer starts as the first "
          "gradient)", dict(lr=0.1, momentum=0.9)),
        C("sgd_momentum_dampening", "SGD", "SGD momentum 0.9, dampening 0.5 (no dampening at "
          "step 1)", dict(lr=0.1, momentum=0.9, dampening=0.5)),
        C("sgd_nesterov", "SGD", "SGD Nesterov momentum 0.9", dict(lr=0.1, momentum=0.9,
                                                                  nesterov=True)),
        C("sgd_weight_decay", "SGD", "SGD momentum 0.9, weight_decay 0.01",
          dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
        C("sgd_maximize", "SGD", "SGD momentum 0.9, maximize", dict(lr=0.1, momentum=0.9,
                                                                   maximize=True)),
        C("sgd_maximize_weight_decay_nesterov", "SGD", "SGD maximize with weight_decay 0.05 and "
          "Nesterov momentum 0.9 (2.x: the gradient is negated before weight decay is added)",
          dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05, maximize=True)),
        C("sgd_momentum_n1", "SGD", "SGD momentum 0.9, a single element",
          dict(lr=0.1, momentum=0.9), n=1, T=60),
        C("sgd_nesterov_n1000", "SGD", "SGD Nesterov momentum 0.9, weight_decay 1e-3, 1000 "
          "elements", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3), n=1000, T=20),
        C("sgd_momentum_grad1em6", "SGD", "SGD momentum 0.9, p0 and grads scaled by 1e-6 (SGD is "
          "not scale invariant: scaling p0 as well keeps the steps visible)",
          dict(lr=0.1, momentum=0.9), gscale=1e-6, pscale=1e-6),
        C("sgd_momentum_grad1e3", "SGD", "SGD momentum 0.9, p0 and grads scaled by 1e3",
          dict(lr=0.1, momentum=0.9), gscale=1e3, pscale=1e3),
        C("sgd_momentum_zeros", "SGD", "SGD momentum 0.9, weight_decay 0.01, zero gradients "
          "(step 1 all zero: the buffer starts as the weight-decay term)",
          dict(lr=0.1, momentum=0.9, weight_decay=0.01), zeros=True),
        C("sgd_momentum_warmup_cosine", "SGD", "SGD momentum 0.9 with lr_per_step",
          dict(lr=0.1, momentum=0.9), T=60, schedule=WC),
        C("sgd_nesterov_step_decay", "SGD", "SGD Nesterov momentum 0.9 with lr_per_step",
          dict(lr=0.1, momentum=0.9, nesterov=True), T=60, schedule=SD),
        C("sgd_dampening_weight_decay_step_decay", "SGD", "SGD momentum 0.9, dampening 0.1, "
          "weight_decay 0.01 with lr_per_step",
          dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01), T=60, schedule=SD),
    ]
    # ---------------- Adam ----------------
    L += [
        C("adam_default", "Adam", "Adam defaults (lr 1e-3, betas (0.9,0.999), eps 1e-8)", T=100),
        C("adam_amsgrad", "Adam", "Adam amsgrad; decaying gradients keep the max of the raw "
          "second moment active", dict(amsgrad=True), T=80, decay=0.05),
        C("adam_maximize", "Adam", "Adam maximize", dict(maximize=True)),
        C("adam_weight_decay", "Adam", "Adam with L2 weight_decay 0.1 added to the gradient",
          dict(lr=0.01, weight_decay=0.1)),
        C("adam_amsgrad_maximize_weight_decay", "Adam", "Adam amsgrad + maximize + "
          "weight_decay 0.05", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.05),
          decay=0.1),
        C("adam_betas_eps", "Adam", "Adam lr 0.01, betas (0.8, 0.99), eps 1e-6",
          dict(lr=0.01, betas=[0.8, 0.99], eps=1e-6)),
        C("adam_n1", "Adam", "Adam defaults, a single element", dict(lr=0.01), n=1, T=60),
        C("adam_n1000", "Adam", "Adam lr 1e-2, 1000 elements", dict(lr=0.01), n=1000, T=20),
        C("adam_grad1em6", "Adam", "Adam defaults with grads scaled by 1e-6 (eps 1e-8 is about "
          "1% of the denominator)", dict(lr=0.01), gscale=1e-6),
        C("adam_amsgrad_grad1e3", "Adam", "Adam amsgrad with grads scaled by 1e3",
          dict(lr=0.01, amsgrad=True), gscale=1e3, decay=0.2),
        C("adam_zeros", "Adam", "Adam with zero gradients (m = v = 0 on a zero step 1: the "
          "update is 0/eps = 0)", dict(lr=0.01), zeros=True),
        C("adam_amsgrad_zeros", "Adam", "Adam amsgrad with zero gradients",
          dict(lr=0.01, amsgrad=True), zeros=True),
        C("adam_warmup_cosine", "Adam", "Adam with lr_per_step", dict(lr=0.01), T=60,
          schedule=WC),
    ]
    # ---------------- AdamW ----------------
    L += [
        C("adamw_default", "AdamW", "AdamW defaults (lr 1e-3, weight_decay 1e-2 decoupled)",
          T=100, rtol=1e-5, rtol_reason=ADAMW_RTOL),
        C("adamw_amsgrad", "AdamW", "AdamW amsgrad, lr 1e-2, weight_decay 0.1",
          dict(lr=0.01, weight_decay=0.1, amsgrad=True), decay=0.05),
        C("adamw_maximize", "AdamW", "AdamW maximize (decay still shrinks p)",
          dict(lr=0.01, weight_decay=0.1, maximize=True)),
        C("adamw_no_weight_decay", "AdamW", "AdamW with weight_decay 0 (plain Adam)",
          dict(lr=0.01, weight_decay=0)),
        C("adamw_exact_decay_factor", "AdamW", "AdamW with lr 2^-7 and weight_decay 2^-3 so "
          "that 1 - lr*weight_decay = 1 - 2^-10 is exact in float32 (default rtol applies)",
          dict(lr=0.0078125, weight_decay=0.125), T=100),
        C("adamw_n1", "AdamW", "AdamW, a single element", dict(lr=0.01, weight_decay=0.1),
          n=1, T=60),
        C("adamw_n1000", "AdamW", "AdamW, 1000 elements", dict(lr=0.01, weight_decay=0.1),
          n=1000, T=20),
        C("adamw_grad1em6", "AdamW", "AdamW with grads scaled by 1e-6",
          dict(lr=0.01, weight_decay=0.1), gscale=1e-6),
        C("adamw_grad1e3", "AdamW", "AdamW with grads scaled by 1e3",
          dict(lr=0.01, weight_decay=0.1), gscale=1e3),
        C("adamw_zeros", "AdamW", "AdamW with zero gradients (decay still acts on zero steps)",
          dict(lr=0.01, weight_decay=0.1), zeros=True),
        C("adamw_warmup_cosine", "AdamW", "AdamW with lr_per_step (the decay factor "
          "1 - lr_t*weight_decay follows the schedule)", dict(lr=0.01, weight_decay=0.1),
          T=60, schedule=WC),
    ]
    # ---------------- RMSprop ----------------
    L += [
        C("rmsprop_default", "RMSprop", "RMSprop defaults (lr 1e-2, alpha 0.99, eps 1e-8)"),
        C("rmsprop_centered", "RMSprop", "RMSprop centered", dict(centered=True)),
        C("rmsprop_momentum", "RMSprop", "RMSprop momentum 0.9", dict(lr=0.001, momentum=0.9)),
        C("rmsprop_centered_momentum", "RMSprop", "RMSprop centered with momentum 0.5",
          dict(lr=0.001, momentum=0.5, centered=True)),
        C("rmsprop_weight_decay", "RMSprop", "RMSprop weight_decay 0.1",
          dict(weight_decay=0.1)),
        C("rmsprop_maximize", "RMSprop", "RMSprop maximize, momentum 0.9, weight_decay 0.01",
          dict(lr=0.001, momentum=0.9, weight_decay=0.01, maximize=True)),
        C("rmsprop_custom_alpha_eps", "RMSprop", "RMSprop alpha 0.9, eps 1e-3 (eps outside "
          "the square root, not negligible)", dict(alpha=0.9, eps=1e-3)),
        C("rmsprop_n1", "RMSprop", "RMSprop centered, a single element", dict(centered=True),
          n=1, T=60),
        C("rmsprop_centered_n1000", "RMSprop", "RMSprop centered + momentum 0.9, 1000 "
          "elements", dict(lr=0.001, centered=True, momentum=0.9), n=1000, T=20),
        C("rmsprop_grad1em6", "RMSprop", "RMSprop with grads scaled by 1e-6 (eps 1e-8 is ~0.1% "
          "of sqrt(v))", gscale=1e-6),
        C("rmsprop_centered_grad1em6", "RMSprop", "RMSprop centered with grads scaled by 1e-6",
          dict(centered=True), gscale=1e-6),
        C("rmsprop_grad1e3", "RMSprop", "RMSprop momentum 0.9 with grads scaled by 1e3",
          dict(lr=0.001, momentum=0.9), gscale=1e3),
        C("rmsprop_zeros", "RMSprop", "RMSprop with zero gradients", zeros=True),
        C("rmsprop_centered_zeros", "RMSprop", "RMSprop centered + momentum 0.9 with zero "
          "gradients", dict(lr=0.001, centered=True, momentum=0.9), zeros=True),
        C("rmsprop_warmup_cosine", "RMSprop", "RMSprop momentum 0.9 with lr_per_step",
          dict(lr=0.001, momentum=0.9), T=60, schedule=WC),
    ]
    # ---------------- Adagrad ----------------
    L += [
        C("adagrad_default", "Adagrad", "Adagrad defaults (lr 1e-2, eps 1e-10)"),
        C("adagrad_lr_decay", "Adagrad", "Adagrad lr_decay 0.05 (clr = lr / (1 + (t-1) "
          "lr_decay))", dict(lr=0.1, lr_decay=0.05)),
        C("adagrad_weight_decay", "Adagrad", "Adagrad weight_decay 0.1",
          dict(lr=0.1, weight_decay=0.1)),
        C("adagrad_initial_accumulator", "Adagrad", "Adagrad initial_accumulator_value 0.5",
          dict(lr=0.1, initial_accumulator_value=0.5)),
        C("adagrad_eps", "Adagrad", "Adagrad eps 0.1 (outside the square root)",
          dict(lr=0.1, eps=0.1)),
        C("adagrad_maximize", "Adagrad", "Adagrad maximize with weight_decay 0.01 and "
          "lr_decay 0.01", dict(lr=0.1, maximize=True, weight_decay=0.01, lr_decay=0.01)),
        C("adagrad_n1", "Adagrad", "Adagrad, a single element", dict(lr=0.1), n=1, T=60),
        C("adagrad_grad1em6", "Adagrad", "Adagrad with grads scaled by 1e-6", dict(lr=0.1),
          gscale=1e-6),
        C("adagrad_grad1e3", "Adagrad", "Adagrad with grads scaled by 1e3", dict(lr=0.1),
          gscale=1e3),
        C("adagrad_zeros", "Adagrad", "Adagrad with zero gradients (0/(0+eps) = 0)",
          dict(lr=0.1), zeros=True),
        C("adagrad_initial_accumulator_zeros", "Adagrad", "Adagrad initial_accumulator_value "
          "0.1 with zero gradients", dict(lr=0.1, initial_accumulator_value=0.1), zeros=True),
        C("adagrad_step_decay", "Adagrad", "Adagrad lr_decay 0.01 with lr_per_step",
          dict(lr=0.1, lr_decay=0.01), T=60, schedule=SD),
    ]
    # ---------------- Adamax ----------------
    L += [
        C("adamax_default", "Adamax", "Adamax defaults (lr 2e-3, eps inside the max)"),
        C("adamax_decaying_grads", "Adamax", "Adamax lr 1e-2 with decaying gradients (the "
          "beta2-decayed maximum dominates)", dict(lr=0.01), T=80, decay=0.05),
        C("adamax_weight_decay", "Adamax", "Adamax weight_decay 0.1",
          dict(lr=0.01, weight_decay=0.1)),
        C("adamax_maximize", "Adamax", "Adamax maximize", dict(lr=0.01, maximize=True)),
        C("adamax_betas_eps", "Adamax", "Adamax betas (0.8, 0.9), eps 1e-3",
          dict(lr=0.01, betas=[0.8, 0.9], eps=1e-3), decay=0.2),
        C("adamax_n1", "Adamax", "Adamax, a single element", dict(lr=0.01), n=1, T=60),
        C("adamax_grad1em6", "Adamax", "Adamax with grads scaled by 1e-6 (eps 1e-8 inside the "
          "max is ~1% of |g|)", dict(lr=0.01), gscale=1e-6),
        C("adamax_grad1e3", "Adamax", "Adamax with grads scaled by 1e3", dict(lr=0.01),
          gscale=1e3),
        C("adamax_zeros", "Adamax", "Adamax with zero gradients (u = max(beta2 u, eps) on zero "
          "elements)", dict(lr=0.01), zeros=True),
        C("adamax_warmup_cosine", "Adamax", "Adamax with lr_per_step", dict(lr=0.01), T=60,
          schedule=WC),
    ]
    # ---------------- NAdam (float64 reference of the 2.x formula) ----------------
    L += [
        C("nadam_default", "NAdam", "NAdam defaults (lr 2e-3, momentum_decay 4e-3)", T=100),
        C("nadam_momentum_decay", "NAdam", "NAdam momentum_decay 0.1 (mu_t moves fast)",
          dict(lr=0.01, momentum_decay=0.1)),
        C("nadam_weight_decay", "NAdam", "NAdam weight_decay 0.1 (L2, added to the gradient)",
          dict(lr=0.01, weight_decay=0.1)),
        C("nadam_betas_eps", "NAdam", "NAdam betas (0.8, 0.99), eps 1e-6",
          dict(lr=0.01, betas=[0.8, 0.99], eps=1e-6)),
        C("nadam_n1", "NAdam", "NAdam, a single element", dict(lr=0.01), n=1, T=60),
        C("nadam_n1000", "NAdam", "NAdam, 1000 elements", dict(lr=0.01), n=1000, T=20),
        C("nadam_grad1em6", "NAdam", "NAdam with grads scaled by 1e-6", dict(lr=0.01),
          gscale=1e-6),
        C("nadam_grad1e3", "NAdam", "NAdam with grads scaled by 1e3", dict(lr=0.01),
          gscale=1e3),
        C("nadam_zeros", "NAdam", "NAdam with zero gradients", dict(lr=0.01), zeros=True),
        C("nadam_warmup_cosine", "NAdam", "NAdam with lr_per_step", dict(lr=0.01), T=60,
          schedule=WC),
    ]
    # ---------------- RAdam ----------------
    L += [
        C("radam_default", "RAdam", "RAdam defaults (rectified from step 6, when rho_t > 5)"),
        C("radam_weight_decay", "RAdam", "RAdam weight_decay 0.1", dict(lr=0.01,
                                                                       weight_decay=0.1)),
        C("radam_betas", "RAdam", "RAdam betas (0.8, 0.99), eps 1e-6",
          dict(lr=0.01, betas=[0.8, 0.99], eps=1e-6)),
        C("radam_n1", "RAdam", "RAdam, a single element", dict(lr=0.01), n=1, T=60),
        C("radam_grad1em6", "RAdam", "RAdam with grads scaled by 1e-6 (unrectified steps 1-5 "
          "move p by lr*m_hat only)", dict(lr=0.01), gscale=1e-6),
        C("radam_grad1e3", "RAdam", "RAdam with grads scaled by 1e3 and p0 by 1e2 (the first "
          "5 unrectified steps are lr*m_hat)", dict(lr=0.01), gscale=1e3, pscale=1e2),
        C("radam_zeros", "RAdam", "RAdam with zero gradients", dict(lr=0.01), zeros=True),
        C("radam_warmup_cosine", "RAdam", "RAdam with lr_per_step", dict(lr=0.01), T=60,
          schedule=WC),
    ]
    # ---------------- Adadelta ----------------
    L += [
        C("adadelta_default", "Adadelta", "Adadelta defaults (lr 1, rho 0.9, eps 1e-6 inside "
          "both roots)"),
        C("adadelta_weight_decay", "Adadelta", "Adadelta weight_decay 0.1",
          dict(weight_decay=0.1)),
        C("adadelta_maximize", "Adadelta", "Adadelta maximize", dict(maximize=True)),
        C("adadelta_rho_eps_lr", "Adadelta", "Adadelta lr 0.5, rho 0.95, eps 1e-4",
          dict(lr=0.5, rho=0.95, eps=1e-4)),
        C("adadelta_n1", "Adadelta", "Adadelta, a single element", n=1, T=60),
        C("adadelta_grad1em6", "Adadelta", "Adadelta with p0 and grads scaled by 1e-6 (eps "
          "dominates both roots)", gscale=1e-6, pscale=1e-6),
        C("adadelta_grad1e3", "Adadelta", "Adadelta with grads scaled by 1e3", gscale=1e3),
        C("adadelta_zeros", "Adadelta", "Adadelta with zero gradients", zeros=True),
        C("adadelta_step_decay", "Adadelta", "Adadelta with lr_per_step", T=60, schedule=SD),
    ]
    # ---------- NAdam and RAdam with decoupled_weight_decay (torch >= 2.1; float64 reference) ----------
    DWD = dict(decoupled_weight_decay=True)
    L += [
        C("nadam_decoupled_weight_decay", "NAdam", "NAdam decoupled_weight_decay, weight_decay 0.1 "
          "(p <- p*(1 - lr*weight_decay) before the update, the moments see the raw gradient)",
          dict(lr=0.01, weight_decay=0.1, **DWD)),
        C("nadam_decoupled_momentum_decay_betas", "NAdam", "NAdam decoupled_weight_decay 0.5, "
          "momentum_decay 0.1, betas (0.8, 0.99), eps 1e-6",
          dict(lr=0.01, betas=[0.8, 0.99], eps=1e-6, weight_decay=0.5, momentum_decay=0.1, **DWD)),
        C("nadam_decoupled_n1000", "NAdam", "NAdam decoupled_weight_decay 0.1, 1000 elements",
          dict(lr=0.01, weight_decay=0.1, **DWD), n=1000, T=20),
        C("nadam_decoupled_zeros", "NAdam", "NAdam decoupled_weight_decay 0.1 with zero gradients "
          "(the decay still shrinks p on zero steps)", dict(lr=0.01, weight_decay=0.1, **DWD),
          zeros=True),
        C("nadam_decoupled_warmup_cosine", "NAdam", "NAdam decoupled_weight_decay 0.1 with "
          "lr_per_step (the factor 1 - lr_t*weight_decay follows the schedule)",
          dict(lr=0.01, weight_decay=0.1, **DWD), T=60, schedule=WC),
        C("radam_decoupled_weight_decay", "RAdam", "RAdam decoupled_weight_decay, weight_decay 0.1 "
          "(p <- p*(1 - lr*weight_decay) before the rectified or unrectified update)",
          dict(lr=0.01, weight_decay=0.1, **DWD)),
        C("radam_decoupled_short_beta2", "RAdam", "RAdam decoupled_weight_decay 0.5, betas "
          "(0.5, 0.9) (rho_inf = 19: rectified from step 6), eps 1e-6",
          dict(lr=0.01, betas=[0.5, 0.9], eps=1e-6, weight_decay=0.5, **DWD)),
        C("radam_decoupled_grad1e3", "RAdam", "RAdam decoupled_weight_decay 0.1 with grads scaled "
          "by 1e3 and p0 by 1e2", dict(lr=0.01, weight_decay=0.1, **DWD), gscale=1e3, pscale=1e2),
        C("radam_decoupled_zeros", "RAdam", "RAdam decoupled_weight_decay 0.1 with zero gradients",
          dict(lr=0.01, weight_decay=0.1, **DWD), zeros=True),
        C("radam_decoupled_warmup_cosine", "RAdam", "RAdam decoupled_weight_decay 0.1 with "
          "lr_per_step", dict(lr=0.01, weight_decay=0.1, **DWD), T=60, schedule=WC),
    ]
    # ---------------- lecture forms ----------------
    L += [
        C("classic_momentum_default", "classic_momentum", "classic momentum N 10, eta 0.01",
          dict(N=10, eta=0.01)),
        C("classic_momentum_window1", "classic_momentum", "classic momentum N 1 (plain SGD: "
          "v = eta g)", dict(N=1, eta=0.05)),
        C("classic_momentum_window100", "classic_momentum", "classic momentum N 100, eta 1e-3",
          dict(N=100, eta=0.001), T=80),
        C("classic_momentum_n1", "classic_momentum", "classic momentum, a single element",
          dict(N=10, eta=0.01), n=1, T=60),
        C("classic_momentum_grad1em6", "classic_momentum", "classic momentum with p0 and grads "
          "scaled by 1e-6", dict(N=10, eta=0.01), gscale=1e-6, pscale=1e-6),
        C("classic_momentum_grad1e3", "classic_momentum", "classic momentum with p0 and grads "
          "scaled by 1e3", dict(N=10, eta=0.01), gscale=1e3, pscale=1e3),
        C("classic_momentum_zeros", "classic_momentum", "classic momentum with zero gradients",
          dict(N=10, eta=0.01), zeros=True),
        C("classic_momentum_warmup_cosine", "classic_momentum", "classic momentum with "
          "lr_per_step (eta_t = lr_per_step[t-1] scales g_t inside v)",
          dict(N=10, eta=0.01), T=60, schedule=WC),

        C("ema_momentum_default", "ema_momentum", "EMA momentum N 10, eta' 0.05",
          dict(N=10, eta_prime=0.05)),
        C("ema_momentum_window1", "ema_momentum", "EMA momentum N 1 (mu = g)",
          dict(N=1, eta_prime=0.05)),
        C("ema_momentum_n1", "ema_momentum", "EMA momentum, a single element",
          dict(N=10, eta_prime=0.05), n=1, T=60),
        C("ema_momentum_grad1em6", "ema_momentum", "EMA momentum with p0 and grads scaled by "
          "1e-6", dict(N=10, eta_prime=0.05), gscale=1e-6, pscale=1e-6),
        C("ema_momentum_grad1e3", "ema_momentum", "EMA momentum with p0 and grads scaled by "
          "1e3", dict(N=20, eta_prime=0.1), gscale=1e3, pscale=1e3),
        C("ema_momentum_zeros", "ema_momentum", "EMA momentum with zero gradients",
          dict(N=10, eta_prime=0.05), zeros=True),
        C("ema_momentum_step_decay", "ema_momentum", "EMA momentum with lr_per_step "
          "(eta'_t = lr_per_step[t-1])", dict(N=10, eta_prime=0.1), T=60, schedule=SD),

        C("rmsprop_eps_inside_default", "rmsprop_eps_inside", "RMSprop (lecture), eps inside "
          "the root: Ns 100, eta 0.01, eps 1e-8", dict(Ns=100, eta=0.01, eps=1e-8)),
        C("rmsprop_eps_inside_ns10", "rmsprop_eps_inside", "RMSprop (lecture), eps inside, "
          "Ns 10", dict(Ns=10, eta=0.01, eps=1e-8)),
        C("rmsprop_eps_inside_n1", "rmsprop_eps_inside", "RMSprop eps inside, a single element",
          dict(Ns=100, eta=0.01, eps=1e-8), n=1, T=60),
        C("rmsprop_eps_inside_grad1em6", "rmsprop_eps_inside", "RMSprop eps inside with grads "
          "scaled by 1e-6: s ~ 1e-14 is far below eps 1e-8, so sqrt(s+eps) ~ 1e-4 is "
          "eps-dominated", dict(Ns=100, eta=0.01, eps=1e-8), gscale=1e-6, pscale=1e-3),
        C("rmsprop_eps_inside_grad1e3", "rmsprop_eps_inside", "RMSprop eps inside with grads "
          "scaled by 1e3", dict(Ns=100, eta=0.01, eps=1e-8), gscale=1e3),
        C("rmsprop_eps_inside_zeros", "rmsprop_eps_inside", "RMSprop eps inside with zero "
          "gradients", dict(Ns=100, eta=0.01, eps=1e-8), zeros=True),
        C("rmsprop_eps_inside_warmup_cosine", "rmsprop_eps_inside", "RMSprop eps inside with "
          "lr_per_step (eta_t = lr_per_step[t-1])", dict(Ns=100, eta=0.01, eps=1e-8), T=60,
          schedule=WC),

        C("rmsprop_eps_outside_default", "rmsprop_eps_outside", "RMSprop (lecture), eps "
          "outside the root: Ns 100, eta 0.01, eps 1e-8", dict(Ns=100, eta=0.01, eps=1e-8)),
        C("rmsprop_eps_outside_ns10_eps1em2", "rmsprop_eps_outside", "RMSprop eps outside, "
          "Ns 10, eps 1e-2", dict(Ns=10, eta=0.01, eps=1e-2)),
        C("rmsprop_eps_outside_n1", "rmsprop_eps_outside", "RMSprop eps outside, a single "
          "element", dict(Ns=100, eta=0.01, eps=1e-8), n=1, T=60),
        C("rmsprop_eps_outside_grad1em6", "rmsprop_eps_outside", "RMSprop eps outside with "
          "grads scaled by 1e-6 (eps 1e-8 is ~1% of sqrt(s))", dict(Ns=100, eta=0.01, eps=1e-8),
          gscale=1e-6),
        C("rmsprop_eps_outside_grad1e3", "rmsprop_eps_outside", "RMSprop eps outside with "
          "grads scaled by 1e3", dict(Ns=100, eta=0.01, eps=1e-8), gscale=1e3),
        C("rmsprop_eps_outside_zeros", "rmsprop_eps_outside", "RMSprop eps outside with zero "
          "gradients", dict(Ns=100, eta=0.01, eps=1e-8), zeros=True),
        C("rmsprop_eps_outside_step_decay", "rmsprop_eps_outside", "RMSprop eps outside with "
          "lr_per_step (eta_t = lr_per_step[t-1])", dict(Ns=100, eta=0.01, eps=1e-8), T=60,
          schedule=SD),

        C("adam_min_t_default", "adam_min_t", "adam_min_t Ng 10, Ns 1000, eta 1e-3, eps 1e-8 "
          "(the Ns clamp is never active)", dict(Ng=10, Ns=1000, eta=0.001, eps=1e-8)),
        C("adam_min_t_clamped", "adam_min_t", "adam_min_t Ng 5, Ns 20 with T 60: both clamps "
          "become active", dict(Ng=5, Ns=20, eta=0.01, eps=1e-8), T=60),
        C("adam_min_t_n1", "adam_min_t", "adam_min_t, a single element",
          dict(Ng=10, Ns=1000, eta=0.01, eps=1e-8), n=1, T=60),
        C("adam_min_t_n1000", "adam_min_t", "adam_min_t, 1000 elements",
          dict(Ng=10, Ns=1000, eta=0.01, eps=1e-8), n=1000, T=20),
        C("adam_min_t_grad1em6", "adam_min_t", "adam_min_t with grads scaled by 1e-6 (eps 1e-8 "
          "is ~1% of sqrt(s))", dict(Ng=10, Ns=1000, eta=0.01, eps=1e-8), gscale=1e-6),
        C("adam_min_t_grad1e3", "adam_min_t", "adam_min_t with grads scaled by 1e3",
          dict(Ng=10, Ns=30, eta=0.01, eps=1e-8), gscale=1e3),
        C("adam_min_t_zeros", "adam_min_t", "adam_min_t with zero gradients (0/(0+eps) = 0)",
          dict(Ng=10, Ns=1000, eta=0.01, eps=1e-8), zeros=True),
        C("adam_min_t_warmup_cosine", "adam_min_t", "adam_min_t with lr_per_step "
          "(eta_t = lr_per_step[t-1])", dict(Ng=10, Ns=1000, eta=0.01, eps=1e-8), T=60,
          schedule=WC),

        C("adam_decoupled_eps_default", "adam_decoupled_eps", "adam_decoupled_eps Ng 10, "
          "Ns 1000, eta0 0.01, eps 1e-3", dict(Ng=10, Ns=1000, eta0=0.01, eps=1e-3)),
        C("adam_decoupled_eps_clamped", "adam_decoupled_eps", "adam_decoupled_eps Ng 5, Ns 20 "
          "with T 60 (both clamps active), eps 1e-2", dict(Ng=5, Ns=20, eta0=0.1, eps=1e-2),
          T=60),
        C("adam_decoupled_eps_n1", "adam_decoupled_eps", "adam_decoupled_eps, a single element",
          dict(Ng=10, Ns=1000, eta0=0.01, eps=1e-3), n=1, T=60),
        C("adam_decoupled_eps_grad1em6", "adam_decoupled_eps", "adam_decoupled_eps with p0 and "
          "grads scaled by 1e-6 (sqrt(s) << eps: the step is ~eta0*m)",
          dict(Ng=10, Ns=1000, eta0=0.01, eps=1e-3), gscale=1e-6, pscale=1e-6),
        C("adam_decoupled_eps_grad1e3", "adam_decoupled_eps", "adam_decoupled_eps with grads "
          "scaled by 1e3 (sqrt(s) >> eps: the step is ~eta0*eps*m/sqrt(s))",
          dict(Ng=10, Ns=1000, eta0=10.0, eps=1e-3), gscale=1e3),
        C("adam_decoupled_eps_zeros", "adam_decoupled_eps", "adam_decoupled_eps with zero "
          "gradients", dict(Ng=10, Ns=1000, eta0=0.01, eps=1e-3), zeros=True),
        C("adam_decoupled_eps_warmup_cosine", "adam_decoupled_eps", "adam_decoupled_eps with "
          "lr_per_step (eta0_t = lr_per_step[t-1])", dict(Ng=10, Ns=1000, eta0=0.01, eps=1e-3),
          T=60, schedule=WC),

        C("adagrad_rms_default", "adagrad_rms", "Adagrad as RMS of all past gradients, eta "
          "0.01", dict(eta=0.01)),
        C("adagrad_rms_n1", "adagrad_rms", "adagrad_rms, a single element", dict(eta=0.01),
          n=1, T=60),
        C("adagrad_rms_grad1em6", "adagrad_rms", "adagrad_rms with grads scaled by 1e-6 (no "
          "eps: the step is scale invariant)", dict(eta=0.01), gscale=1e-6),
        C("adagrad_rms_grad1e3", "adagrad_rms", "adagrad_rms with grads scaled by 1e3",
          dict(eta=0.01), gscale=1e3),
        C("adagrad_rms_zeros", "adagrad_rms", "adagrad_rms with zero gradients: elements that "
          "are always zero and the all-zero step 1 give 0/0 := 0", dict(eta=0.01), zeros=True),
        C("adagrad_rms_warmup_cosine", "adagrad_rms", "adagrad_rms with lr_per_step "
          "(eta_t = lr_per_step[t-1])", dict(eta=0.05), T=60, schedule=WC),

        C("rmsprop_alpha_default", "rmsprop_alpha", "RMSprop on sigma, alpha 0.9, eta 0.01, "
          "sigma_1 = |g_1|", dict(alpha=0.9, eta=0.01)),
        C("rmsprop_alpha_0p99", "rmsprop_alpha", "rmsprop_alpha with alpha 0.99",
          dict(alpha=0.99, eta=0.01)),
        C("rmsprop_alpha_n1", "rmsprop_alpha", "rmsprop_alpha, a single element",
          dict(alpha=0.9, eta=0.01), n=1, T=60),
        C("rmsprop_alpha_grad1em6", "rmsprop_alpha", "rmsprop_alpha with grads scaled by 1e-6 "
          "(no eps: scale invariant)", dict(alpha=0.9, eta=0.01), gscale=1e-6),
        C("rmsprop_alpha_grad1e3", "rmsprop_alpha", "rmsprop_alpha with grads scaled by 1e3",
          dict(alpha=0.9, eta=0.01), gscale=1e3),
        C("rmsprop_alpha_zeros", "rmsprop_alpha", "rmsprop_alpha with zero gradients: step 1 "
          "all zero gives sigma_1 = 0, always-zero elements give 0/0 := 0",
          dict(alpha=0.9, eta=0.01), zeros=True),
        C("rmsprop_alpha_step_decay", "rmsprop_alpha", "rmsprop_alpha with lr_per_step "
          "(eta_t = lr_per_step[t-1])", dict(alpha=0.9, eta=0.02), T=60, schedule=SD),
    ]
    # ---------------- audit: edge values of weight decay, maximize and everything at once ----------------
    L += [
        C("audit_adamw_decay_factor_zero", "AdamW", "AdamW lr 1, weight_decay 1: the decay factor "
          "1 - lr*weight_decay is exactly 0, so p is replaced by -lr*update every step",
          dict(lr=1.0, weight_decay=1.0), T=30),
        C("audit_sgd_nesterov_weight_decay_1", "SGD", "SGD Nesterov momentum 0.5, weight_decay 1 "
          "(the decay term as large as the gradient), maximize",
          dict(lr=0.05, momentum=0.5, nesterov=True, weight_decay=1.0, maximize=True)),
        C("audit_rmsprop_everything", "RMSprop", "RMSprop centered, momentum 0.5, weight_decay 0.5, "
          "maximize, alpha 0.5, eps 1e-3", dict(lr=0.001, alpha=0.5, eps=1e-3, weight_decay=0.5,
                                                momentum=0.5, centered=True, maximize=True)),
        C("audit_adagrad_everything", "Adagrad", "Adagrad lr_decay 0.1, weight_decay 0.5, "
          "initial_accumulator_value 0.5, eps 1e-3, maximize",
          dict(lr=0.1, lr_decay=0.1, weight_decay=0.5, initial_accumulator_value=0.5, eps=1e-3,
               maximize=True)),
        C("audit_adamax_maximize_weight_decay", "Adamax", "Adamax maximize with weight_decay 0.5, "
          "betas (0.5, 0.9)", dict(lr=0.01, betas=[0.5, 0.9], weight_decay=0.5, maximize=True)),
        C("audit_adadelta_maximize_weight_decay", "Adadelta", "Adadelta lr 0.5, rho 0.5, "
          "weight_decay 0.5, maximize", dict(lr=0.5, rho=0.5, weight_decay=0.5, maximize=True)),
        C("audit_nadam_weight_decay_large", "NAdam", "NAdam weight_decay 0.5, momentum_decay 0.01, "
          "betas (0.5, 0.9)", dict(lr=0.01, betas=[0.5, 0.9], weight_decay=0.5,
                                   momentum_decay=0.01)),
        C("audit_radam_short_beta2", "RAdam", "RAdam betas (0.5, 0.9) (rho_inf = 19: rectified "
          "from step 6), weight_decay 0.5", dict(lr=0.01, betas=[0.5, 0.9], weight_decay=0.5)),
    ]
    return L


# ----------------------------------------------------------------------------------------------
# Building, checking and writing
# ----------------------------------------------------------------------------------------------

def full_hyperparameters(optimizer, hp):
    if optimizer in TORCH_KEYS:
        out = {}
        for k, default in TORCH_KEYS[optimizer].items():
            v = hp.get(k, default)
            if v is None:
                raise ValueError(f"{optimizer}: {k} has no default")
            out[k] = list(v) if k == "betas" else v
        for k in OPTIONAL_TORCH_KEYS.get(optimizer, {}):
            if k in hp:
                out[k] = hp[k]
        extra = set(hp) - set(out)
    else:
        out = {k: hp[k] for k in LECTURE_KEYS[optimizer]}
        extra = set(hp) - set(out)
    if extra:
        raise ValueError(f"{optimizer}: unknown keys {sorted(extra)}")
    return out


def check_torch_signature():
    """Every SCHEMA key must be a constructor argument of torch 1.13.1 (we only pass those)."""
    import inspect
    for name, keys in TORCH_KEYS.items():
        params = inspect.signature(getattr(torch.optim, name).__init__).parameters
        missing = [k for k in keys if k not in params]
        if missing:
            raise SystemExit(f"torch.optim.{name} lacks {missing}")
        if "foreach" not in params:
            raise SystemExit(f"torch.optim.{name} has no foreach argument")


def compute(optimizer, hp, p0, grads, lrs):
    """(stored reference, cross-check result, what the cross-check is)."""
    ref = REFERENCES[optimizer]
    if float64_reference(optimizer, hp):
        stored = ref(hp, p0, grads, lrs, F64)
        other = ref(hp, p0, grads, lrs, F32)
        what = "float32 emulation"
    else:
        stored = run_torch(optimizer, hp, p0, grads, lrs)
        other = ref(hp, p0, grads, lrs, F64)
        what = "float64 formula"
    return stored, other, what


def rel_err(a, ref):
    scale = float(np.max(np.abs(ref.astype(F64))))
    err = float(np.max(np.abs(a.astype(F64) - ref.astype(F64))))
    return err / scale if scale > 0 else err


def fmt_f32(values):
    return "[" + ",".join(str(F32(v)) for v in np.asarray(values, dtype=F32).ravel()) + "]"


def fmt_f32_2d(rows):
    return "[" + ",".join(fmt_f32(r) for r in rows) + "]"


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def render(case):
    """Compact single-line JSON in the examples' field order, no trailing newline."""
    parts = []
    for key in ("name", "description", "optimizer", "reference", "hyperparameters", "dtype",
                "n", "T"):
        parts.append(f"{dumps(key)}:{dumps(case[key])}")
    if "lr_per_step" in case:
        parts.append(f"\"lr_per_step\":{dumps(case['lr_per_step'])}")
    parts.append(f"\"p0\":{fmt_f32(case['p0'])}")
    parts.append(f"\"grads\":{fmt_f32_2d(case['grads'])}")
    parts.append(f"\"params_after_each_step\":{fmt_f32_2d(case['params_after_each_step'])}")
    if "rtol" in case:
        parts.append(f"\"rtol\":{dumps(case['rtol'])}")
    return "{" + ",".join(parts) + "}"


def build(spec):
    optimizer = spec["optimizer"]
    hp = full_hyperparameters(optimizer, spec["hp"])
    n, T = spec["n"], spec["T"]
    p0, grads = make_data(spec["name"], n, T, gscale=spec.get("gscale", 1.0),
                          pscale=spec.get("pscale", 1.0), zeros=spec.get("zeros", False),
                          decay=spec.get("decay"))
    lrs = None
    desc = spec["desc"]
    if "schedule" in spec:
        base = hp[lr_key(optimizer)]
        lrs = make_schedule(spec["schedule"], base, T)
        desc += "; schedule " + SCHEDULE_TEXT[spec["schedule"]["kind"]] \
            .format(**spec["schedule"]).replace("lr", lr_key(optimizer))
    if optimizer == "RAdam":
        for t in range(1, T + 1):
            _, rho = radam_rho(hp["betas"][1], t)
            assert abs(rho - 5.0) > 1e-6, "rho_t too close to the rectification threshold"
    stored, other, what = compute(optimizer, hp, p0, grads, lrs)
    measured = rel_err(other, stored)
    rtol = spec.get("rtol")
    desc += ". Data: " + describe_data(spec) + "."
    if rtol is not None:
        desc += " " + spec["rtol_reason"].format(rtol=rtol) + "."
    case = dict(name=spec["name"], description=desc, optimizer=optimizer,
                reference=reference_text(optimizer, lrs is not None, hp), hyperparameters=hp,
                dtype="float32", n=n, T=T, p0=p0, grads=grads, params_after_each_step=stored)
    if lrs is not None:
        case["lr_per_step"] = lrs
    if rtol is not None:
        case["rtol"] = rtol
    return case, measured, what


def validate(case):
    n, T = case["n"], case["T"]
    assert len(case["p0"]) == n
    assert np.shape(case["grads"]) == (T, n)
    assert np.shape(case["params_after_each_step"]) == (T, n)
    assert np.all(np.isfinite(case["params_after_each_step"]))
    if "lr_per_step" in case:
        assert len(case["lr_per_step"]) == T
    assert 20 <= T <= 100


def validate_file(path, case):
    """Re-read a written file: shapes, and every float32 value parses back bit-exactly."""
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    T, n = d["T"], d["n"]
    assert d["dtype"] == "float32"
    assert len(d["p0"]) == n
    assert len(d["grads"]) == T and all(len(r) == n for r in d["grads"])
    assert len(d["params_after_each_step"]) == T
    assert all(len(r) == n for r in d["params_after_each_step"])
    if "lr_per_step" in d:
        assert len(d["lr_per_step"]) == T
    for k in ("p0", "grads", "params_after_each_step"):
        assert np.array_equal(np.array(d[k], dtype=F64).astype(F32), case[k]), k
    assert d["hyperparameters"] == case["hyperparameters"]
    return d


def check_nadam_reference():
    """The NAdam float64 reference with 1.13.1's bug switched on must match torch 1.13.1."""
    worst = 0.0
    for i, hp in enumerate([dict(), dict(lr=0.01, momentum_decay=0.1, weight_decay=0.1),
                            dict(lr=0.01, betas=[0.8, 0.99], eps=1e-6)]):
        hp = full_hyperparameters("NAdam", hp)
        p0, grads = make_data(f"nadam_check_{i}", 29, 60)
        t = run_torch("NAdam", hp, p0, grads, None)
        r = ref_NAdam(hp, p0, grads, None, F64, torch113_bug=True)
        worst = max(worst, rel_err(t, r))
    print(f"NAdam reference with the 1.13.1 bug vs torch 1.13.1: max rel err {worst:.2e}")
    assert worst < 1e-6
    return worst


def check_decoupled_reference():
    """The decoupled NAdam and RAdam float64 references must match torch 1.13.1 run as torch 2.1's
    decoupled branch runs: weight_decay=0 and p.mul_(1 - lr*weight_decay) before every step()
    (NAdam with 1.13.1's mu_product bug switched back on, as in check_nadam_reference)."""
    worst = 0.0
    for i, (optimizer, hp) in enumerate([
            ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
            ("NAdam", dict(lr=0.01, betas=[0.8, 0.99], weight_decay=0.5, momentum_decay=0.1,
                           decoupled_weight_decay=True)),
            ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
            ("RAdam", dict(lr=0.01, betas=[0.5, 0.9], weight_decay=0.5,
                           decoupled_weight_decay=True))]):
        hp = full_hyperparameters(optimizer, hp)
        p0, grads = make_data(f"decoupled_check_{i}", 29, 60)
        lrs = warmup_cosine(hp["lr"], 60, 10)
        torch_hp = {k: v for k, v in hp.items() if k != "decoupled_weight_decay"}
        torch_hp["weight_decay"] = 0
        param = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float32))
        kwargs = dict(torch_hp, betas=tuple(torch_hp["betas"]), foreach=False)
        opt = getattr(torch.optim, optimizer)([param], **kwargs)
        got = np.empty_like(grads)
        for t in range(grads.shape[0]):
            with torch.no_grad():
                param.mul_(1 - lrs[t] * hp["weight_decay"])
            param.grad = torch.tensor(grads[t], dtype=torch.float32)
            opt.param_groups[0]["lr"] = lrs[t]
            opt.step()
            got[t] = param.detach().numpy()
        if optimizer == "NAdam":
            r = ref_NAdam(hp, p0, grads, lrs, F64, torch113_bug=True)
        else:
            r = ref_RAdam(hp, p0, grads, lrs, F64)
        worst = max(worst, rel_err(got, r))
    print(f"decoupled NAdam/RAdam references vs torch 1.13.1 with the decay done by hand: "
          f"max rel err {worst:.2e}")
    assert worst < 1e-6
    return worst


def check_examples(folder):
    """Recompute shared/conformance/examples with this script's references."""
    print(f"examples in {folder}:")
    results = []
    for fn in sorted(os.listdir(folder)):
        if not fn.endswith(".json"):
            continue
        with open(os.path.join(folder, fn), encoding="utf-8") as f:
            d = json.load(f)
        opt = d["optimizer"]
        hp = d["hyperparameters"]
        p0 = np.array(d["p0"], dtype=F32)
        grads = np.array(d["grads"], dtype=F32)
        lrs = d.get("lr_per_step")
        expected = np.array(d["params_after_each_step"], dtype=F32)
        if float64_reference(opt, hp):
            runs = []
            for rounding in (True, False):
                Stepper.round_p_each_step = rounding
                try:
                    got = REFERENCES[opt](hp, p0, grads, lrs, F64)
                finally:
                    Stepper.round_p_each_step = True
                runs.append(("float64 reference, p rounded every step" if rounding else
                             "float64 reference, p kept in float64", got))
        else:
            runs = [("torch 1.13.1", run_torch(opt, hp, p0, grads, lrs))]
        for how, got in runs:
            abs_err = float(np.max(np.abs(got.astype(F64) - expected)))
            rel = rel_err(got, expected)
            identical = bool(np.array_equal(got, expected))
            print(f"  {d['name']}: {how}: max abs {abs_err:.3e}, rel {rel:.3e}"
                  f"{' (bit-identical)' if identical else ''}")
            results.append((d["name"], how, abs_err, rel, identical))
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    ap.add_argument("--check-examples", metavar="DIR",
                    help="also recompute the example cases in DIR and print the differences")
    args = ap.parse_args(argv)

    if not torch.__version__.startswith("1.13"):
        print(f"warning: torch {torch.__version__}; the references were made with 1.13.1",
              file=sys.stderr)
    torch.set_num_threads(1)
    check_torch_signature()
    check_nadam_reference()
    check_decoupled_reference()
    if args.check_examples:
        check_examples(args.check_examples)

    specs = cases()
    names = [s["name"] for s in specs]
    assert len(names) == len(set(names)), "duplicate case names"
    covered = {s["optimizer"] for s in specs}
    assert covered == set(TORCH_KEYS) | set(LECTURE_KEYS), "vocabulary not covered"

    write_cases(args.out, specs, covered, build, render, validate_file)


def write_cases(out, specs, owned, build, render, validate_file):
    """Builds, checks and writes every case of `specs` into `out`, after deleting the stale files
    there whose optimizer is in `owned` (the other script's files are left alone). `build(spec)`
    returns (case, measured cross-check error, what it was measured against)."""
    names = [s["name"] for s in specs]
    os.makedirs(out, exist_ok=True)
    stale = {f for f in os.listdir(out) if f.endswith(".json")} - {n + ".json" for n in names}
    for f in sorted(stale):
        with open(os.path.join(out, f), encoding="utf-8") as h:
            if json.load(h).get("optimizer") not in owned:
                continue
        os.remove(os.path.join(out, f))

    failures = []
    for spec in specs:
        case, measured, what = build(spec)
        validate(case)
        rtol = case.get("rtol", DEFAULT_RTOL)
        ok = measured <= rtol / 3
        print(f"{case['name']}: vs {what} max rel err {measured:.2e} (rtol {rtol:g})"
              f"{'' if ok else '  <-- too close to rtol'}")
        if not ok:
            failures.append(case["name"])
        path = os.path.join(out, case["name"] + ".json")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(render(case))
        validate_file(path, case)
    total = sum(os.path.getsize(os.path.join(out, n + ".json")) for n in names)
    print(f"wrote {len(names)} cases to {out} ({total / 1e6:.2f} MB)")
    if failures:
        raise SystemExit(f"cases whose float32 rounding is too close to rtol: {failures}")

if __name__ == "__main__":
    main()
