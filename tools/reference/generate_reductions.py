"""Generate OptGen's conformance cases for the families with reductions (JSON, one file per case).

Run with Debian's own interpreter and Debian's PyTorch (1.13.1), from anywhere:

    /usr/bin/python3 tools/reference/generate_reductions.py [--out DIR] [--check-examples DIR]

It writes one ``<case name>.json`` per case of the five families of SCHEMA.md's section "Families
with reductions" (``lamb``, ``lars``, ``adafactor``, ``adam_mini``, ``adamw_schedulefree``) into
``tests/conformance/cases/`` (``--out`` overrides), in the same compact format as
``generate_conformance.py`` (whose data, formatting and checking helpers it reuses), plus the
optional ``tensors`` field (a list of shapes; the vector is their row-major concatenation) and, for
``adamw_schedulefree``, ``params_eval_after_each_step`` (the x that ``eval()`` puts in the
parameters after each step).  It deletes only stale files of these five families; the other
script deletes only stale files of its own vocabulary.

The references are float64 NumPy implementations written from the definitions, one per family,
each over a list of tensors; they are independent of the C# references in
``tests/OptGen.Runtime.Tests/Reductions`` (which read the files this script writes):

* ``lamb``: the LAMB paper's Algorithm 2 with Adam's bias correction, trust ratio ||p|| / ||r||
  per tensor (1 when either norm is 0).
* ``lars``: local_lr = tc ||p|| / (||g|| + wd ||p||) per tensor (1 when ||p|| or ||g|| is 0),
  b <- mu b + lr local_lr (g + wd p), p <- p - b.
* ``adafactor``: ``torch.optim.Adafactor`` of PyTorch >= 2.5, ``_single_tensor_adafactor``,
  transcribed from torch/optim/_adafactor.py (torch 1.13 has no Adafactor): lerp weight
  t^beta2_decay, rho_t = min(lr, 1/sqrt(t)), alpha = max(eps2, ||p|| / sqrt(numel)) rho_t taken
  before the decay p <- p (1 - lr wd), row/column means of g^2 over the last two dimensions of a
  tensor with two or more, var = (row outer col) / max(mean(row), eps1), update
  g / sqrt(max(var, eps1^2)), divided by max(1, RMS(update) / d).
* ``adam_mini``: SCHEMA's formula: blocks of ``block`` consecutive elements inside each tensor
  (the last one may be shorter), one second moment per block from the block's mean of g^2.
* ``adamw_schedulefree``: ``AdamWScheduleFree`` of facebookresearch/schedule_free (newest form,
  commit 59ed9b6 "Stability improvements" onward: lr = lr sched, denominator
  sqrt(v / (1 - beta2^t)) + eps), train mode, the parameters holding y.

Storage follows ``generate_conformance.py``: state in float64, the parameters rounded to float32
after every step (the optimizer keeps them in float32).  For ``adamw_schedulefree`` y is rounded
every step and z kept in float64.

Self-checks on every run (the script stops if one fails):

* every case against a float32 emulation of the same formula (same operation order, float32
  scalars): ``max|diff| / max|p_ref|`` must stay below rtol / 3;
* ``adam_mini`` with block 1 is AdamW: compared with torch 1.13.1 ``torch.optim.AdamW``;
* ``lars`` is heavy-ball SGD fed the gradient local_lr (g + wd p): compared with torch 1.13.1
  ``torch.optim.SGD(momentum=mu)`` driven that way;
* ``adamw_schedulefree``: the y-in-place form used here is compared with the x/z form of the
  paper (z <- z - lr gn, x <- (1 - c) x + c z, y = (1 - beta1) z + beta1 x);
* each case is there for a feature (clipping, an eps clamp, warm-up, ...): switching that feature
  off must move its result by more than 10 rtol (``DISCRIMINATING``);
* ``--check-examples DIR`` recomputes the examples of DIR whose optimizer is one of the five.
"""

import argparse
import json
import math
import os
import sys
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_conformance as gc  # noqa: E402  (data, formatting and checking helpers)

F32 = np.float32
F64 = np.float64
FLOAT32_EPS = float(np.finfo(np.float32).eps)  # 2^-23, torch.finfo(torch.float32).eps

KEYS = {
    "lamb": dict(lr=0.001, betas=[0.9, 0.999], eps=1e-06, weight_decay=0.0),
    "lars": dict(lr=None, momentum=0.9, weight_decay=0.0, trust_coefficient=0.001),
    "adafactor": dict(lr=0.01, beta2_decay=-0.8, eps=[None, 0.001], d=1.0, weight_decay=0.0,
                      maximize=False),
    "adam_mini": dict(lr=0.001, betas=[0.9, 0.999], eps=1e-08, weight_decay=0.0, block=None),
    "adamw_schedulefree": dict(lr=0.0025, betas=[0.9, 0.999], eps=1e-08, weight_decay=0.0,
                               warmup_steps=0, r=0.0, weight_lr_power=2.0),
}

REFERENCE_TEXT = {
    "lamb": "numpy float64 reference of LAMB (paper Algorithm 2, Adam bias correction, "
            "per-tensor trust ratio), parameter rounded to float32 after every step",
    "lars": "numpy float64 reference of LARS (per-tensor local lr, heavy-ball momentum), "
            "parameter rounded to float32 after every step",
    "adafactor": "numpy float64 transcription of torch.optim.Adafactor (PyTorch >= 2.5, "
                 "_single_tensor_adafactor), parameter rounded to float32 after every step",
    "adam_mini": "numpy float64 reference of Adam-mini (SCHEMA formula, one second moment per "
                 "block), parameter rounded to float32 after every step",
    "adamw_schedulefree": "numpy float64 transcription of schedulefree.AdamWScheduleFree "
                          "(facebookresearch/schedule_free, train mode), y rounded to float32 "
                          "after every step, z in float64; params_eval_after_each_step = "
                          "y + (1 - 1/beta1)(z - y)",
}


# ----------------------------------------------------------------------------------------------
# Tensors: a flat vector and its shapes
# ----------------------------------------------------------------------------------------------

def offsets(shapes):
    """(start, shape) of every tensor in the flat vector."""
    out, start = [], 0
    for shape in shapes:
        out.append((start, tuple(shape)))
        start += int(np.prod(shape))
    return out


def norm(x):
    return np.sqrt(np.sum(x * x))


class Run:
    """A trajectory over float32 inputs with state in dt; p rounded to float32 after each step
    (unless round_p_each_step is switched off, for the exact algebra checks)."""

    round_p_each_step = True

    def __init__(self, p0, grads, lrs, base_lr, dt):
        self.dt = dt
        self.p = p0.astype(dt)
        self.grads = grads
        self.T = grads.shape[0]
        self.lrs = list(lrs) if lrs is not None else [base_lr] * self.T
        self.out = np.empty(grads.shape, F32 if Run.round_p_each_step else F64)

    def c(self, x):
        return self.dt(x)

    def g(self, t):
        return self.grads[t].astype(self.dt)

    def store(self, t):
        if Run.round_p_each_step:
            self.p = self.p.astype(F32).astype(self.dt)
        self.out[t] = self.p


# ----------------------------------------------------------------------------------------------
# References (dt = float64: the stored cases; dt = float32: the rounding emulation)
# ----------------------------------------------------------------------------------------------

def ref_lamb(hp, shapes, p0, grads, lrs, dt):
    s = Run(p0, grads, lrs, hp["lr"], dt)
    c = s.c
    b1, b2 = hp["betas"]
    m = np.zeros_like(s.p)
    v = np.zeros_like(s.p)
    for t in range(s.T):
        step = t + 1
        g = s.g(t)
        lr = s.lrs[t]
        bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
        for start, shape in offsets(shapes):
            sl = slice(start, start + int(np.prod(shape)))
            m[sl] = c(b1) * m[sl] + c(1 - b1) * g[sl]
            v[sl] = c(b2) * v[sl] + c(1 - b2) * g[sl] * g[sl]
            r = (m[sl] / c(bc1)) / (np.sqrt(v[sl] / c(bc2)) + c(hp["eps"])) \
                + c(hp["weight_decay"]) * s.p[sl]
            pn, rn = norm(s.p[sl]), norm(r)
            trust = pn / rn if pn > 0 and rn > 0 else c(1)
            s.p[sl] = s.p[sl] - c(lr) * trust * r
        s.store(t)
    return s.out


def ref_lars(hp, shapes, p0, grads, lrs, dt):
    s = Run(p0, grads, lrs, hp["lr"], dt)
    c = s.c
    mu, wd, tc = hp["momentum"], hp["weight_decay"], hp["trust_coefficient"]
    b = np.zeros_like(s.p)
    for t in range(s.T):
        g = s.g(t)
        lr = s.lrs[t]
        for start, shape in offsets(shapes):
            sl = slice(start, start + int(np.prod(shape)))
            pn, gn = norm(s.p[sl]), norm(g[sl])
            local = c(tc) * pn / (gn + c(wd) * pn) if pn > 0 and gn > 0 else c(1)
            b[sl] = c(mu) * b[sl] + c(lr) * local * (g[sl] + c(wd) * s.p[sl])
            s.p[sl] = s.p[sl] - b[sl]
        s.store(t)
    return s.out


def adafactor_eps1(hp):
    eps1 = hp["eps"][0]
    return FLOAT32_EPS if eps1 is None else eps1


def ref_adafactor(hp, shapes, p0, grads, lrs, dt):
    s = Run(p0, grads, lrs, hp["lr"], dt)
    c = s.c
    eps1, eps2 = adafactor_eps1(hp), hp["eps"][1]
    wd, d = hp["weight_decay"], hp["d"]
    state = {}
    for t in range(s.T):
        step = float(t + 1)
        g = s.g(t)
        if hp["maximize"]:
            g = -g
        lr = s.lrs[t]
        weight = step ** hp["beta2_decay"]          # torch's one_minus_beta2_t, the lerp weight
        rho = min(lr, 1 / step ** 0.5)
        for k, (start, shape) in enumerate(offsets(shapes)):
            numel = int(np.prod(shape))
            sl = slice(start, start + numel)
            alpha = max(eps2, float(norm(s.p[sl])) / numel ** 0.5) * rho
            if wd != 0:
                s.p[sl] = s.p[sl] * c(1 - lr * wd)
            gt = g[sl].reshape(shape)
            if len(shape) >= 2:
                row, col = state.setdefault(
                    k, (np.zeros(shape[:-1] + (1,), dt), np.zeros(shape[:-2] + (1, shape[-1]), dt)))
                row += c(weight) * ((gt * gt).mean(axis=-1, keepdims=True) - row)
                col += c(weight) * ((gt * gt).mean(axis=-2, keepdims=True) - col)
                var = (row * col) / np.maximum(row.mean(axis=-2, keepdims=True), c(eps1))
            else:
                full = state.setdefault(k, np.zeros(shape, dt))
                full += c(weight) * (gt * gt - full)
                var = full.copy()
            update = gt / np.sqrt(np.maximum(var, c(eps1 * eps1)))
            denom = max(1.0, float(norm(update)) / (numel ** 0.5 * d))
            s.p[sl] = s.p[sl] - c(alpha / denom) * update.reshape(-1)
        s.store(t)
    return s.out


def ref_adam_mini(hp, shapes, p0, grads, lrs, dt):
    s = Run(p0, grads, lrs, hp["lr"], dt)
    c = s.c
    b1, b2 = hp["betas"]
    block = hp["block"]
    m = np.zeros_like(s.p)
    vb = {}
    for t in range(s.T):
        step = t + 1
        g = s.g(t)
        lr = s.lrs[t]
        bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
        m = c(b1) * m + c(1 - b1) * g
        s.p = s.p * c(1 - lr * hp["weight_decay"])
        for k, (start, shape) in enumerate(offsets(shapes)):
            numel = int(np.prod(shape))
            for j, lo in enumerate(range(start, start + numel, block)):
                sl = slice(lo, min(lo + block, start + numel))
                vb[k, j] = c(b2) * vb.get((k, j), c(0)) + c(1 - b2) * np.mean(g[sl] * g[sl])
                denom = np.sqrt(vb[k, j] / c(bc2)) + c(hp["eps"])
                s.p[sl] = s.p[sl] - c(lr) * (m[sl] / c(bc1)) / denom
        s.store(t)
    return s.out


def schedulefree_scalars(hp, T):
    """(lr, ckp1) of every step, in Python doubles as AdamWScheduleFree computes them."""
    out, lr_max, weight_sum = [], -1.0, 0.0
    for k in range(T):
        sched = (k + 1) / hp["warmup_steps"] if k < hp["warmup_steps"] else 1.0
        lr = hp["lr"] * sched
        lr_max = max(lr, lr_max)
        weight = ((k + 1) ** hp["r"]) * (lr_max ** hp["weight_lr_power"])
        weight_sum += weight
        ckp1 = weight / weight_sum if weight_sum != 0 else 0.0
        out.append((lr, ckp1))
    return out


def ref_adamw_schedulefree(hp, shapes, p0, grads, lrs, dt, eval_out=None):
    """y in the parameters (rounded every step), z in dt; eval_out receives x after each step."""
    assert lrs is None, "AdamWScheduleFree schedules lr itself"
    s = Run(p0, grads, None, hp["lr"], dt)
    c = s.c
    b1, b2 = hp["betas"]
    z = s.p.copy()
    v = np.zeros_like(s.p)
    for t, (lr, ckp1) in enumerate(schedulefree_scalars(hp, s.T)):
        g = s.g(t)
        bc2 = 1 - b2 ** (t + 1)
        v = c(b2) * v + c(1 - b2) * g * g
        gn = g / (np.sqrt(v / c(bc2)) + c(hp["eps"]))
        if hp["weight_decay"] != 0:
            gn = gn + c(hp["weight_decay"]) * s.p
        y = s.p + c(ckp1) * (z - s.p)
        s.p = y + c(lr * (b1 * (1 - ckp1) - 1)) * gn
        z = z - c(lr) * gn
        s.store(t)
        if eval_out is not None:
            eval_out[t] = s.p + c(1 - 1 / b1) * (z - s.p)
    return s.out


def schedulefree_xz_form(hp, p0, grads):
    """The paper's form: x and z explicit, y = (1 - beta1) z + beta1 x; all float64, no rounding.
    Returns (y, x) after every step."""
    b1, b2 = hp["betas"]
    x = p0.astype(F64)
    z = x.copy()
    v = np.zeros_like(x)
    ys, xs = [], []
    for t, (lr, ckp1) in enumerate(schedulefree_scalars(hp, grads.shape[0])):
        y = (1 - b1) * z + b1 * x
        g = grads[t].astype(F64)
        v = b2 * v + (1 - b2) * g * g
        gn = g / (np.sqrt(v / (1 - b2 ** (t + 1))) + hp["eps"]) + hp["weight_decay"] * y
        z = z - lr * gn
        x = (1 - ckp1) * x + ckp1 * z
        ys.append((1 - b1) * z + b1 * x)
        xs.append(x.copy())
    return np.array(ys), np.array(xs)


REFERENCES = {name[4:]: fn for name, fn in globals().items() if name.startswith("ref_")}


def compute(optimizer, hp, shapes, p0, grads, lrs, dt):
    """(params_after_each_step, params_eval_after_each_step or None)."""
    if optimizer == "adamw_schedulefree":
        ev = np.empty_like(grads)
        return ref_adamw_schedulefree(hp, shapes, p0, grads, lrs, dt, ev), ev
    return REFERENCES[optimizer](hp, shapes, p0, grads, lrs, dt), None


# ----------------------------------------------------------------------------------------------
# Cross-checks against torch 1.13.1 and a second derivation
# ----------------------------------------------------------------------------------------------

def check_adam_mini_block1():
    """Adam-mini with block 1 is AdamW: torch.optim.AdamW (float32) against the float64 reference."""
    worst = 0.0
    for i, hp in enumerate([dict(lr=0.001, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.0),
                            dict(lr=0.01, betas=[0.8, 0.99], eps=1e-6, weight_decay=0.1)]):
        p0, grads = gc.make_data(f"adam_mini_check_{i}", 29, 40)
        torch_hp = dict(hp, amsgrad=False, maximize=False)
        ref = ref_adam_mini(dict(hp, block=1), [[29]], p0, grads, None, F64)
        worst = max(worst, gc.rel_err(gc.run_torch("AdamW", torch_hp, p0, grads, None), ref))
    print(f"adam_mini block 1 vs torch 1.13.1 AdamW: max rel err {worst:.2e}")
    assert worst < 1e-6
    return worst


def check_lars_against_torch_sgd():
    """LARS = torch.optim.SGD(momentum=mu, dampening=0) fed local_lr (g + wd p), per tensor."""
    hp = dict(lr=0.1, momentum=0.9, weight_decay=0.01, trust_coefficient=0.02)
    shapes = [[4, 6], [7]]
    p0, grads = gc.make_data("lars_check", 31, 40)
    params = [torch.nn.Parameter(torch.tensor(p0[a:a + int(np.prod(sh))]))
              for a, sh in offsets(shapes)]
    opt = torch.optim.SGD(params, lr=hp["lr"], momentum=hp["momentum"], foreach=False)
    out = np.empty_like(grads)
    for t in range(grads.shape[0]):
        for q, (a, sh) in zip(params, offsets(shapes)):
            g = torch.tensor(grads[t, a:a + int(np.prod(sh))])
            pn, gn = q.detach().norm(), g.norm()
            local = hp["trust_coefficient"] * pn / (gn + hp["weight_decay"] * pn)
            q.grad = local * (g + hp["weight_decay"] * q.detach())
        opt.step()
        out[t] = np.concatenate([q.detach().numpy() for q in params])
    worst = gc.rel_err(out, ref_lars(hp, shapes, p0, grads, None, F64))
    print(f"lars vs torch 1.13.1 SGD(momentum) fed local_lr*(g + wd*p): max rel err {worst:.2e}")
    assert worst < 1e-6
    return worst


def check_schedulefree_forms():
    hp = dict(KEYS["adamw_schedulefree"], warmup_steps=5, r=0.5, weight_decay=0.01, lr=0.01)
    p0, grads = gc.make_data("adamw_schedulefree_check", 17, 30)
    ys, xs = schedulefree_xz_form(hp, p0, grads)
    ev = np.empty(grads.shape, F64)
    Run.round_p_each_step = False      # without the per-step rounding the forms are the same algebra
    try:
        out = ref_adamw_schedulefree(hp, [[17]], p0, grads, None, F64, ev)
    finally:
        Run.round_p_each_step = True
    worst = max(gc.rel_err(out, ys), gc.rel_err(ev, xs))
    print(f"adamw_schedulefree y-in-place form vs x/z form (float64, no rounding): {worst:.2e}")
    assert worst < 1e-12
    return worst


# (case, hyperparameters changed, what the case is there for): the change must move the result by
# more than 10 rtol, or the case does not test what its description says.
DISCRIMINATING = [
    ("adafactor_clip_growing", dict(d=1e9), "update clipping by d"),
    ("adafactor_default", dict(d=1e9), "update clipping by d = 1"),
    ("adafactor_eps1_given", dict(eps=[1e-30, 1e-3]), "the eps1 clamps"),
    ("adafactor_eps2_small_p", dict(eps=[None, 0.0]), "alpha = eps2 rho"),
    ("adafactor_maximize_weight_decay", dict(maximize=False), "maximize"),
    ("adafactor_maximize_weight_decay", dict(weight_decay=0.0), "weight decay"),
    ("lamb_multi_tensor", dict(weight_decay=0.0), "lamb weight decay"),
    ("lars_weight_decay", dict(weight_decay=0.0), "lars weight decay"),
    ("adam_mini_short_last_block", dict(block=1), "the blocks"),
    ("adam_mini_short_last_block", dict(weight_decay=0.0), "adam_mini weight decay"),
    ("adamw_schedulefree_warmup", dict(warmup_steps=0), "warm-up"),
    ("adamw_schedulefree_r", dict(r=0.0), "r"),
    ("adamw_schedulefree_weight_lr_power", dict(weight_lr_power=2.0), "weight_lr_power"),
    ("adamw_schedulefree_weight_decay", dict(weight_decay=0.0), "schedule-free weight decay"),
]


def check_cases_discriminate(specs):
    by_name = {s["name"]: s for s in specs}
    for name, change, what in DISCRIMINATING:
        spec = by_name[name]
        hp = full_hyperparameters(spec["optimizer"], spec["hp"])
        shapes, p0, grads = make_case_data(spec)
        lrs = gc.make_schedule(spec["schedule"], hp["lr"], spec["T"]) if "schedule" in spec else None
        base, _ = compute(spec["optimizer"], hp, shapes, p0, grads, lrs, F64)
        other, _ = compute(spec["optimizer"], dict(hp, **change), shapes, p0, grads, lrs, F64)
        moved = gc.rel_err(other, base)
        print(f"{name}: {what} moves the result by {moved:.1e}")
        assert moved > 10 * gc.DEFAULT_RTOL, f"{name} does not test {what}"


def check_examples(folder):
    print(f"examples in {folder}:")
    for fn in sorted(os.listdir(folder)):
        if not fn.endswith(".json"):
            continue
        with open(os.path.join(folder, fn), encoding="utf-8") as f:
            d = json.load(f)
        if d["optimizer"] not in KEYS:
            continue
        shapes = d.get("tensors") or [[d["n"]]]
        p0 = np.array(d["p0"], dtype=F32)
        grads = np.array(d["grads"], dtype=F32)
        got, ev = compute(d["optimizer"], d["hyperparameters"], shapes, p0, grads,
                          d.get("lr_per_step"), F64)
        rel = gc.rel_err(got, np.array(d["params_after_each_step"], dtype=F32))
        line = f"  {d['name']}: max rel err {rel:.3e} (rtol {d.get('rtol', gc.DEFAULT_RTOL):g})"
        if "params_eval_after_each_step" in d:
            line += f", eval {gc.rel_err(ev, np.array(d['params_eval_after_each_step'], F32)):.3e}"
        print(line)
        assert rel <= d.get("rtol", gc.DEFAULT_RTOL), d["name"]


# ----------------------------------------------------------------------------------------------
# The cases
# ----------------------------------------------------------------------------------------------

MULTI = [[8, 12], [16], [5, 3]]          # 96 + 16 + 15 = 127


def C(name, optimizer, desc, hp, tensors=None, n=None, T=30, **kw):
    n = n if n is not None else sum(int(np.prod(s)) for s in tensors)
    return dict(name=name, optimizer=optimizer, desc=desc, hp=hp, tensors=tensors, n=n, T=T, **kw)


def cases():
    L = []
    # ---------------- lamb ----------------
    L += [
        C("lamb_multi_tensor", "lamb", "LAMB over three tensors (8x12, 16, 5x3), weight_decay "
          "0.01", dict(weight_decay=0.01), MULTI),
        C("lamb_no_weight_decay", "lamb", "LAMB without weight decay, eps 1e-8",
          dict(eps=1e-8), MULTI),
        C("lamb_betas_lr", "lamb", "LAMB lr 0.01, betas (0.8, 0.99), weight_decay 0.1",
          dict(lr=0.01, betas=[0.8, 0.99], weight_decay=0.1), [[6, 7], [9]], T=40),
        C("lamb_vector", "lamb", "LAMB on one vector (no tensors field)",
          dict(weight_decay=0.01), None, n=29),
        C("lamb_zero_norms", "lamb", "LAMB, no weight decay: tensor 0 starts at p = 0 (trust 1 at "
          "step 1), tensor 1's gradients are always 0 (r = 0, trust 1, p unchanged)",
          dict(), [[4, 5], [6], [3, 3]], zero_p0=[0], zero_grads=[1]),
        C("lamb_warmup_cosine", "lamb", "LAMB with lr_per_step", dict(lr=0.005, weight_decay=0.01),
          [[5, 6], [11]], T=40, schedule=gc.WC),
    ]
    # ---------------- lars ----------------
    L += [
        C("lars_multi_tensor", "lars", "LARS over three tensors (8x12, 16, 5x3), momentum 0.9, "
          "weight_decay 5e-4, trust_coefficient 0.001", dict(lr=0.1, weight_decay=5e-4), MULTI),
        C("lars_weight_decay", "lars", "LARS weight_decay 0.01, trust_coefficient 0.02",
          dict(lr=0.5, weight_decay=0.01, trust_coefficient=0.02), [[6, 7], [9]], T=40),
        C("lars_no_momentum", "lars", "LARS momentum 0", dict(lr=1.0, momentum=0.0,
                                                              trust_coefficient=0.01), MULTI),
        C("lars_vector", "lars", "LARS on one vector (no tensors field)",
          dict(lr=0.2, weight_decay=1e-3, trust_coefficient=0.01), None, n=29),
        C("lars_zero_norms", "lars", "LARS: tensor 0 starts at p = 0 and tensor 1's gradients "
          "are always 0 (local_lr 1 for both while a norm is 0)",
          dict(lr=0.01, weight_decay=0.01, trust_coefficient=0.01), [[4, 5], [6], [3, 3]],
          zero_p0=[0], zero_grads=[1]),
        C("lars_step_decay", "lars", "LARS with lr_per_step",
          dict(lr=0.5, weight_decay=1e-3, trust_coefficient=0.01), [[5, 6], [11]], T=40,
          schedule=gc.SD),
    ]
    # ---------------- adafactor ----------------
    L += [
        C("adafactor_default", "adafactor", "Adafactor defaults over a 6x10 matrix and a vector "
          "of 10", dict(), [[6, 10], [10]]),
        C("adafactor_rectangular", "adafactor", "Adafactor on one 12x5 matrix (factored row and "
          "column second moments)", dict(), [[12, 5]], T=40),
        C("adafactor_vector", "adafactor", "Adafactor on one vector (no tensors field; full "
          "second moment)", dict(), None, n=29, T=40),
        C("adafactor_eps1_given", "adafactor", "Adafactor eps (1e-3, 1e-3) with gradients of "
          "1e-3: the eps1 clamps of the row mean and of the variance are active",
          dict(eps=[1e-3, 1e-3]), [[7, 4], [6]], gscale=1e-3),
        C("adafactor_eps2_small_p", "adafactor", "Adafactor with p0 of 1e-4: alpha = eps2 * rho "
          "(eps2 above RMS(p))", dict(eps=[None, 1e-3]), [[5, 8], [7]], pscale=1e-4),
        C("adafactor_maximize_weight_decay", "adafactor", "Adafactor maximize, weight_decay 0.1",
          dict(maximize=True, weight_decay=0.1), [[6, 5], [8]]),
        C("adafactor_clip_growing", "adafactor", "Adafactor with gradients growing 1 -> 30 over "
          "the run, so RMS(update) > d and clipping acts; d 1.5",
          dict(d=1.5), [[6, 9], [8]], T=40, decay=30.0),
        C("adafactor_lr_large", "adafactor", "Adafactor lr 0.5: rho_t = lr for t <= 4, then "
          "1/sqrt(t); weight_decay 0.01", dict(lr=0.5, weight_decay=0.01), [[4, 6], [5]]),
        C("adafactor_3d", "adafactor", "Adafactor on a 2x3x4 tensor (factored over the last two "
          "dimensions, a row and a column factor per leading index) and a vector",
          dict(), [[2, 3, 4], [5]]),
        C("adafactor_zeros", "adafactor", "Adafactor with zero gradients in places: column 2 of the 6x5 "
          "matrix (index % 5 == 2) is always 0 (C_j = 0), steps 1, 4, 5 and T/2 are all 0 (R = C = 0 "
          "at step 1), and the 3x4 matrix's gradients are always 0 (only the weight decay moves it); "
          "weight_decay 0.01", dict(weight_decay=0.01), [[6, 5], [3, 4], [7]], zeros=True,
          zero_grads=[1]),
        C("adafactor_step_decay", "adafactor", "Adafactor with lr_per_step (rho_t and the decay "
          "factor use lr_t)", dict(lr=0.05, weight_decay=0.02), [[5, 6], [11]], T=40,
          schedule=gc.SD),
    ]
    # ---------------- adam_mini ----------------
    L += [
        C("adam_mini_rows", "adam_mini", "Adam-mini with block 12: one block per row of an 8x12 "
          "matrix; the vector of 20 has blocks of 12 and 8", dict(block=12), [[8, 12], [20]]),
        C("adam_mini_short_last_block", "adam_mini", "Adam-mini block 7 over 5x9 (45 = 6x7 + 3) and "
          "10 (7 + 3), weight_decay 0.1", dict(block=7, weight_decay=0.1), [[5, 9], [10]]),
        C("adam_mini_block1", "adam_mini", "Adam-mini block 1 (= AdamW), lr 0.01, betas (0.8, "
          "0.99)", dict(block=1, lr=0.01, betas=[0.8, 0.99], weight_decay=0.01), [[4, 5], [7]]),
        C("adam_mini_whole_tensor", "adam_mini", "Adam-mini with a block longer than every "
          "tensor (one second moment per tensor)", dict(block=1000, eps=1e-6), MULTI),
        C("adam_mini_vector", "adam_mini", "Adam-mini on one vector of 29 (no tensors field), "
          "block 8", dict(block=8, weight_decay=0.01), None, n=29, T=40),
        C("adam_mini_zeros", "adam_mini", "Adam-mini block 5 with zero gradients in places "
          "(steps 1, 4, 5, T/2 and every index % 5 == 2)", dict(block=5), [[6, 5], [9]],
          zeros=True),
    ]
    # ---------------- adamw_schedulefree ----------------
    L += [
        C("adamw_schedulefree_default", "adamw_schedulefree", "AdamWScheduleFree defaults (no "
          "warm-up, r 0, weight_lr_power 2)", dict(), MULTI),
        C("adamw_schedulefree_warmup", "adamw_schedulefree", "AdamWScheduleFree warm-up 10 "
          "steps, lr 0.01", dict(lr=0.01, warmup_steps=10), [[6, 7], [9]], T=40),
        C("adamw_schedulefree_r", "adamw_schedulefree", "AdamWScheduleFree r 0.5, warm-up 5",
          dict(r=0.5, warmup_steps=5), [[5, 6], [11]]),
        C("adamw_schedulefree_weight_lr_power", "adamw_schedulefree", "AdamWScheduleFree "
          "weight_lr_power 0 and r 1 with warm-up 8 (weights (k+1)^r only)",
          dict(weight_lr_power=0.0, r=1.0, warmup_steps=8, lr=0.005), [[4, 6], [5]]),
        C("adamw_schedulefree_weight_decay", "adamw_schedulefree", "AdamWScheduleFree weight_decay "
          "0.05 (taken at y), betas (0.95, 0.99), eps 1e-6, warm-up 4",
          dict(weight_decay=0.05, betas=[0.95, 0.99], eps=1e-6, warmup_steps=4, lr=0.01),
          [[5, 5], [7]]),
        C("adamw_schedulefree_zeros", "adamw_schedulefree", "AdamWScheduleFree with zero gradients in places (steps 1, "
          "4, 5, T/2 and every index % 5 == 2; v = 0 there), warm-up 3, weight_decay 0.01",
          dict(warmup_steps=3, weight_decay=0.01), [[5, 5], [6]], zeros=True),
        C("adamw_schedulefree_vector", "adamw_schedulefree", "AdamWScheduleFree on one vector "
          "(no tensors field), warm-up 3", dict(warmup_steps=3), None, n=29),
    ]
    # ---------------- audit: three-dimensional and one-element tensors, edge values ----------------
    L += [
        C("audit_lamb_3d_weight_decay_1", "lamb", "LAMB over a 2x3x5 tensor, a one-element tensor "
          "and a vector of 7, weight_decay 1, betas (0.5, 0.9)",
          dict(lr=0.01, betas=[0.5, 0.9], weight_decay=1.0), [[2, 3, 5], [1], [7]]),
        C("audit_lars_tiny_tensors", "lars", "LARS over 1, 1x1 and 4x4 tensors, momentum 0.99, "
          "weight_decay 0.1, trust_coefficient 1",
          dict(lr=0.01, momentum=0.99, weight_decay=0.1, trust_coefficient=1.0), [[1], [1, 1], [4, 4]]),
        C("audit_adafactor_thin_matrices", "adafactor", "Adafactor over a single row (1x6), a single "
          "column (6x1), a 1x1 matrix and a 2x1x3 stack, maximize, weight_decay 0.5, lr 0.05",
          dict(maximize=True, weight_decay=0.5, lr=0.05), [[1, 6], [6, 1], [1, 1], [2, 1, 3]]),
        C("audit_adam_mini_3d_block5", "adam_mini", "Adam-mini block 5 over a 2x3x5 tensor and a vector "
          "of 4 (shorter than a block), weight_decay 0.5, betas (0.5, 0.9)",
          dict(block=5, weight_decay=0.5, betas=[0.5, 0.9], lr=0.01), [[2, 3, 5], [4]]),
        C("audit_adamw_schedulefree_3d", "adamw_schedulefree", "AdamWScheduleFree over a 2x3x4 "
          "tensor, a one-element tensor and a vector of 5, warm-up 2, weight_decay 0.5, r 0.25, "
          "weight_lr_power 1", dict(warmup_steps=2, weight_decay=0.5, r=0.25, weight_lr_power=1.0,
                                    lr=0.01), [[2, 3, 4], [1], [5]]),
    ]
    return L


# ----------------------------------------------------------------------------------------------
# Building, checking and writing
# ----------------------------------------------------------------------------------------------

def full_hyperparameters(optimizer, hp):
    out = {}
    for k, default in KEYS[optimizer].items():
        v = hp.get(k, default)
        if v is None and not (optimizer == "adafactor" and k == "eps"):
            raise ValueError(f"{optimizer}: {k} has no default")
        out[k] = list(v) if isinstance(v, (list, tuple)) else v
    extra = set(hp) - set(out)
    if extra:
        raise ValueError(f"{optimizer}: unknown keys {sorted(extra)}")
    return out


def make_case_data(spec):
    shapes = spec["tensors"] or [[spec["n"]]]
    p0, grads = gc.make_data(spec["name"], spec["n"], spec["T"], gscale=spec.get("gscale", 1.0),
                             pscale=spec.get("pscale", 1.0), zeros=spec.get("zeros", False),
                             decay=spec.get("decay"))
    spans = offsets(shapes)
    for k in spec.get("zero_p0", []):
        a, sh = spans[k]
        p0[a:a + int(np.prod(sh))] = 0
    for k in spec.get("zero_grads", []):
        a, sh = spans[k]
        grads[:, a:a + int(np.prod(sh))] = 0
    return shapes, p0, grads


def build(spec):
    optimizer = spec["optimizer"]
    hp = full_hyperparameters(optimizer, spec["hp"])
    shapes, p0, grads = make_case_data(spec)
    T = spec["T"]
    lrs = gc.make_schedule(spec["schedule"], hp["lr"], T) if "schedule" in spec else None
    desc = spec["desc"]
    if lrs is not None:
        desc += "; schedule " + gc.SCHEDULE_TEXT[spec["schedule"]["kind"]].format(**spec["schedule"])
    stored, ev = compute(optimizer, hp, shapes, p0, grads, lrs, F64)
    other, ev32 = compute(optimizer, hp, shapes, p0, grads, lrs, F32)
    measured = gc.rel_err(other, stored)
    if ev is not None:
        measured = max(measured, gc.rel_err(ev32, ev))
    desc += ". Data: " + gc.describe_data(spec)
    if spec.get("zero_p0") or spec.get("zero_grads"):
        desc += f"; p0 of tensors {spec.get('zero_p0', [])} set to 0, gradients of tensors " \
                f"{spec.get('zero_grads', [])} set to 0"
    desc += "."
    case = dict(name=spec["name"], description=desc, optimizer=optimizer,
                reference=REFERENCE_TEXT[optimizer], hyperparameters=hp, dtype="float32",
                n=spec["n"], T=T, p0=p0, grads=grads, params_after_each_step=stored)
    if spec["tensors"] is not None:
        case["tensors"] = spec["tensors"]
    if lrs is not None:
        case["lr_per_step"] = lrs
    if ev is not None:
        case["params_eval_after_each_step"] = ev
    return case, measured, "float32 emulation"


def render(case):
    """generate_conformance's layout with `tensors` after T and the eval trajectory at the end."""
    text = gc.render(case)
    if "tensors" in case:
        marker = f"\"T\":{gc.dumps(case['T'])},"
        text = text.replace(marker, marker + f"\"tensors\":{gc.dumps(case['tensors'])},", 1)
    if "params_eval_after_each_step" in case:
        text = text[:-1] + ",\"params_eval_after_each_step\":" \
            + gc.fmt_f32_2d(case["params_eval_after_each_step"]) + "}"
    return text


def validate_file(path, case):
    d = gc.validate_file(path, case)
    shapes = d.get("tensors") or [[d["n"]]]
    assert sum(int(np.prod(s)) for s in shapes) == d["n"]
    if "params_eval_after_each_step" in case:
        assert np.array_equal(np.array(d["params_eval_after_each_step"], F64).astype(F32),
                              case["params_eval_after_each_step"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=gc.DEFAULT_OUT, help="output folder (default: %(default)s)")
    ap.add_argument("--check-examples", metavar="DIR",
                    help="also recompute the examples of these families in DIR")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    check_adam_mini_block1()
    check_lars_against_torch_sgd()
    check_schedulefree_forms()
    if args.check_examples:
        check_examples(args.check_examples)

    specs = cases()
    names = [s["name"] for s in specs]
    assert len(names) == len(set(names)), "duplicate case names"
    assert {s["optimizer"] for s in specs} == set(KEYS), "a family has no case"
    assert not set(KEYS) & (set(gc.TORCH_KEYS) | set(gc.LECTURE_KEYS))
    check_cases_discriminate(specs)

    gc.write_cases(args.out, specs, set(KEYS), build, render, validate_file)


if __name__ == "__main__":
    main()
