"""Generate randomized conformance cases: random hyperparameters, shapes and data per family.

Run with Debian's own interpreter and Debian's PyTorch (1.13.1), from anywhere:

    /usr/bin/python3 tools/reference/generate_random.py [--seed S] [--per-family K] [--out DIR]
                                                         [--no-long] [--keep-ill-conditioned]

The hand-written cases of ``generate_conformance.py`` and ``generate_reductions.py`` test one
feature each.  This script draws cases the way an outside reviewer might: for every optimizer
name of SCHEMA.md it draws ``K`` cases, each with every hyperparameter either left at its
default or drawn at random (flags included: maximize, amsgrad, nesterov, centered, momentum,
dampening, ...), a random layout (one vector, 1xn, nx1, several tensors, a 3-D tensor), random
data scales, zero gradients in places, sometimes ``lr_per_step``, and writes them in SCHEMA's
format.  The draw of case ``i`` of optimizer ``name`` uses ``numpy.random.RandomState`` seeded
with the CRC-32 of ``"{seed}:{name}:{i}"``, so each case is reproducible on its own and adding
a family does not change the others.  The default seed (20261205) and ``K`` = 6 give the cases
committed in ``tests/conformance/cases/random``; ``--seed 1 --per-family 40 --out /tmp/x``
gives a fresh, larger batch to run through the runner with ``OPTGEN_CONFORMANCE_DIR=/tmp/x``.

How the files vary, on purpose (each is something the runner must accept):

* ``hyperparameters`` sometimes leaves out keys that are at their default (the runner must
  supply the same default) and sometimes writes integral values as JSON integers (``0``, ``1``);
* ``tensors`` is given for multi-tensor and matrix layouts, also for the element-wise families
  (where it must not change anything), and sometimes as ``[[n]]`` for a plain vector;
* a few long runs (T = 1000 or more, a handful of elements) per family group (``--no-long``
  leaves them out).

References (the same as the hand-written cases; see tools/reference/README.md):

* torch.optim names: torch 1.13.1 on the CPU, float32, ``foreach=False``, one
  ``torch.nn.Parameter`` per tensor of the layout, in the layout's shape.  NAdam always, and RAdam
  with ``maximize``, come from the float64 2.x formula of ``generate_conformance.py`` (1.13.1 has
  the NAdam mu-product bug and no RAdam ``maximize``); ``maximize`` there is exact as the same rule
  fed the negated gradients, which is what PyTorch 2.x does (``grad = -grad`` before weight decay).
* lecture forms and the families with reductions: the float64 references of
  ``generate_conformance.py`` and ``generate_reductions.py``, parameters rounded to float32
  after every step.  For ``adamw_schedulefree`` with ``lr_per_step`` the schedule-free scalars
  follow ``lr_t * warmup(t)`` and its running maximum, as ``AdamWScheduleFree`` does when
  ``group['lr']`` is changed between steps.

Checks on every case (the cross-check is written into the case's ``reference`` field):

* a torch case against the float64 formula of the same rule; a float64-reference case against
  a float32 emulation of its formula.  ``max|diff| / max|p_ref|`` must stay below rtol / 3
  (rtol 5e-6), otherwise the draw is ill-conditioned for the contract's tolerance (float32
  rounding alone comes close to it) and is drawn again (``--keep-ill-conditioned`` keeps it and
  marks it in the name with ``_illcond``, for exploring);
* finite references, shapes, and every float32 value parsing back bit-exactly.

Stale files: the output folder holds only this script's cases; ``.json`` files there that are
not produced by this run are deleted.
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
import generate_conformance as gc  # noqa: E402
import generate_reductions as gr  # noqa: E402

F32 = np.float32
F64 = np.float64
DEFAULT_SEED = 20261205
DEFAULT_OUT = os.path.join(gc.REPO_ROOT, "tests", "conformance", "cases", "random")
EDGE_OUT = os.path.join(gc.REPO_ROOT, "tests", "conformance", "cases", "edge")
REDUCTIONS = set(gr.KEYS)
LECTURE = set(gc.LECTURE_KEYS)
TORCH = set(gc.TORCH_KEYS)
# PyTorch 2.x accepts maximize for NAdam and RAdam too (1.13.1 does not); SCHEMA does not list it,
# the runner accepts it, so the draws exercise it.
EXTRA_TORCH_KEYS = {"NAdam": dict(maximize=False), "RAdam": dict(maximize=False)}
# --extreme (exploring only): data scales near float32's limits (squares that underflow or overflow).
EXTREME = False
LARGE = False
EDGE = False
EXTREME_PSCALES = [1.0, 1e-30, 1e-20, 1e15, 1e30]
EXTREME_GSCALES = [1e-30, 1e-22, 1e-12, 1e12, 1e17, 1e19]
LONG = {"SGD": 1500, "Adam": 1200, "AdamW": 1000, "RMSprop": 1000, "Adagrad": 1000,
        "adam_min_t": 1000, "adafactor": 1000, "lamb": 1000, "adamw_schedulefree": 1000,
        "NAdam": 1000}


# ----------------------------------------------------------------------------------------------
# Draws
# ----------------------------------------------------------------------------------------------

def loguniform(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def nice(x):
    """Round a drawn value to 3 significant digits so the files stay readable."""
    return float(f"{x:.3g}")


def nice_decay(x):
    """A decay in [0, 1) rounded so that 1 - x keeps 3 significant digits (0.999999 stays)."""
    return x if x == 0 else float(f"{1 - nice(1 - x):.12g}")


def maybe(rng, p, value, default):
    return value if rng.rand() < p else default


def draw_betas(rng, default, zero_beta1=True):
    """beta1 sometimes 0 (no momentum; not for schedule-free, whose x = y + (1 - 1/beta1)(z - y)),
    beta2 sometimes 0.999999."""
    b1 = maybe(rng, 0.6, nice_decay(rng.choice([0.0 if zero_beta1 else 0.5, rng.uniform(0.5, 0.99), 0.9])),
               default[0])
    b2 = maybe(rng, 0.6, nice_decay(rng.choice([rng.uniform(0.9, 0.9999), 0.99, 0.999999])), default[1])
    return [b1, b2]


def draw_hp(rng, name, i):
    """Every hyperparameter of `name`, each at its default or drawn.  The flags that select a
    different rule (amsgrad, nesterov, centered, momentum on/off, maximize) are stratified by the
    case index i, so that any 4 consecutive cases of a family cover their combinations."""
    if name in TORCH:
        d = dict(gc.TORCH_KEYS[name], **EXTRA_TORCH_KEYS.get(name, {}))
    elif name in REDUCTIONS:
        d = dict(gr.KEYS[name])
    else:
        d = {}
    lr = lambda lo, hi: nice(loguniform(rng, lo, hi))  # noqa: E731
    eps = lambda: nice(loguniform(rng, 1e-10, 1e-3))  # noqa: E731
    wd = lambda: maybe(rng, 0.5, nice(loguniform(rng, 1e-4, 0.5)), 0)  # noqa: E731
    bit = lambda j: bool((i >> j) & 1)  # noqa: E731
    if name == "SGD":
        mode = i % 4                                           # plain, momentum, nesterov, dampening
        d.update(lr=maybe(rng, 0.8, lr(1e-3, 0.3), 0.001), weight_decay=wd(), maximize=bit(2) != bit(0))
        d["momentum"] = nice(rng.uniform(0.1, 0.99)) if mode else 0
        d["nesterov"] = mode == 2
        if mode == 3:
            d["dampening"] = nice(rng.uniform(0.05, 0.9))
        elif mode == 0:
            d["dampening"] = maybe(rng, 0.3, nice(rng.uniform(0, 0.9)), 0)  # ignored without momentum
    elif name in ("Adam", "AdamW"):
        d.update(lr=maybe(rng, 0.7, lr(1e-4, 0.05), d["lr"]), betas=draw_betas(rng, d["betas"]),
                 eps=maybe(rng, 0.5, eps(), d["eps"]), amsgrad=bit(0), maximize=bit(1))
        d["weight_decay"] = maybe(rng, 0.6, nice(loguniform(rng, 1e-4, 0.5)) if rng.rand() < 0.8 else 0,
                                  d["weight_decay"])
    elif name == "RMSprop":
        d.update(lr=maybe(rng, 0.7, lr(1e-4, 0.03), d["lr"]),
                 alpha=maybe(rng, 0.5, nice(rng.uniform(0.5, 0.999)), d["alpha"]),
                 eps=maybe(rng, 0.5, eps(), d["eps"]), weight_decay=wd(),
                 momentum=nice(rng.uniform(0.1, 0.95)) if bit(1) else 0, centered=bit(0),
                 maximize=bit(2) != bit(0))
    elif name == "Adagrad":
        d.update(lr=maybe(rng, 0.7, lr(1e-3, 0.3), d["lr"]),
                 lr_decay=maybe(rng, 0.4, nice(loguniform(rng, 1e-4, 0.2)), 0), weight_decay=wd(),
                 initial_accumulator_value=maybe(rng, 0.4, nice(loguniform(rng, 1e-3, 1.0)), 0),
                 eps=maybe(rng, 0.5, eps(), d["eps"]), maximize=bit(0))
    elif name in ("Adamax", "NAdam", "RAdam"):
        d.update(lr=maybe(rng, 0.7, lr(1e-4, 0.03), d["lr"]), betas=draw_betas(rng, d["betas"]),
                 eps=maybe(rng, 0.5, eps(), d["eps"]), weight_decay=wd(), maximize=i % 3 == 1)
        if name == "NAdam":
            d["momentum_decay"] = maybe(rng, 0.5, nice(loguniform(rng, 1e-3, 0.1)), d["momentum_decay"])
    elif name == "Adadelta":
        d.update(lr=maybe(rng, 0.6, lr(0.05, 2.0), d["lr"]),
                 rho=maybe(rng, 0.6, nice(rng.uniform(0.3, 0.99)), d["rho"]),
                 eps=maybe(rng, 0.5, nice(loguniform(rng, 1e-8, 1e-3)), d["eps"]),
                 weight_decay=wd(), maximize=bit(0))
    elif name in LECTURE:
        length = lambda: int(rng.choice([1, 2, 3, 5, 10, 30, 100, 1000]))  # noqa: E731
        for k in gc.LECTURE_KEYS[name]:
            if k in ("N", "Ng", "Ns"):
                d[k] = length()
            elif k in ("eta", "eta_prime", "eta0"):
                d[k] = lr(1e-3, 0.1)
            elif k == "eps":
                d[k] = nice(loguniform(rng, 1e-8, 1e-2))
            elif k == "alpha":
                d[k] = nice(rng.uniform(0.3, 0.999))
    elif name == "lamb":
        d.update(lr=maybe(rng, 0.7, lr(1e-4, 0.05), d["lr"]), betas=draw_betas(rng, d["betas"]),
                 eps=maybe(rng, 0.5, eps(), d["eps"]), weight_decay=wd())
    elif name == "lars":
        d.update(lr=lr(1e-3, 1.0), momentum=maybe(rng, 0.6, nice(rng.uniform(0, 0.99)), d["momentum"]),
                 weight_decay=wd(),
                 trust_coefficient=maybe(rng, 0.6, nice(loguniform(rng, 1e-3, 1.0)), d["trust_coefficient"]))
    elif name == "adafactor":
        d.update(lr=maybe(rng, 0.6, lr(1e-3, 0.5), d["lr"]),
                 beta2_decay=maybe(rng, 0.5, nice(rng.uniform(-1.0, -0.3)), d["beta2_decay"]),
                 eps=[maybe(rng, 0.3, nice(loguniform(rng, 1e-30, 1e-3)), None),
                      maybe(rng, 0.4, nice(loguniform(rng, 1e-5, 1e-1)), 1e-3)],
                 d=maybe(rng, 0.5, nice(rng.uniform(1.0, 3.0)), 1.0), weight_decay=wd(),
                 maximize=bit(0))
    elif name == "adam_mini":
        d.update(lr=maybe(rng, 0.7, lr(1e-4, 0.05), d["lr"]), betas=draw_betas(rng, d["betas"]),
                 eps=maybe(rng, 0.5, eps(), d["eps"]), weight_decay=wd(),
                 block=int(rng.choice([1, 2, 3, 5, 7, 16, 1000])))
    elif name == "adamw_schedulefree":
        d.update(lr=maybe(rng, 0.7, lr(1e-3, 0.05), d["lr"]), betas=draw_betas(rng, d["betas"], False),
                 eps=maybe(rng, 0.5, eps(), d["eps"]), weight_decay=wd(),
                 warmup_steps=int(maybe(rng, 0.5, int(rng.randint(1, 20)), 0)),
                 r=maybe(rng, 0.4, nice(rng.uniform(0, 2)), 0.0),
                 weight_lr_power=maybe(rng, 0.4, nice(rng.uniform(0, 3)), 2.0))
    else:
        raise ValueError(name)
    key = gc.lr_key(name)
    if rng.rand() < 0.04:
        d[key] = 0.0                                           # lr 0: nothing but the state may move
    if EDGE:
        edge_hp(rng, name, i, d)
    return d


# ----------------------------------------------------------------------------------------------
# --edge: values at the ends of every key's range, switches PyTorch 2.x accepts, and data with
# zeros, -0.0, 1e-30, 1e19 and 1e30 (squares that under- or overflow in float32)
# ----------------------------------------------------------------------------------------------

# torch.optim's implementation switches: they choose a code path, not the math (SCHEMA's names).
SWITCHES = ("foreach", "fused", "capturable", "differentiable")
EDGE_LENGTHS = [[[1]], [[3]], [[17]], [[4097]], [[1, 1]], [[1, 17]], [[17, 1]], [[3, 17]], [[]],
                [[2, 1, 3]], [[1, 1, 1]], [[17, 3], [1], [4097]], [[64, 65]], [[3, 5, 7], [2]]]
EDGE_SPECIALS = [0.0, -0.0, 1e-30, -1e-30, 1e19, -1e19, 1e30, -1e30]


def edge_hp(rng, name, i, d):
    """Moves some keys of d to the ends of their ranges (each with a fair chance to stay as drawn)."""
    pick = lambda values: values[int(rng.randint(len(values)))]  # noqa: E731
    chance = lambda p=0.3: rng.rand() < p  # noqa: E731
    key = gc.lr_key(name)
    if chance(0.25):
        d[key] = pick([0.0, 1e-8, 1e-3, 0.5, 10.0])
    if "eps" in d and name != "adafactor" and chance():
        d["eps"] = pick([1e-30, 1e-20, 1e-12, 1.0, 10.0])
    if "betas" in d:
        b1, b2 = d["betas"]
        if chance():
            b1 = pick([0.5, 0.999999] if name == "adamw_schedulefree" else [0.0, 0.999999])
        if chance():
            b2 = pick([0.0, 0.5, 0.9999999])
        d["betas"] = [b1, b2]
    if "weight_decay" in d and chance(0.2):
        d["weight_decay"] = pick([0.0, 1.0, 5.0])
    if name == "SGD" and d["momentum"] and chance():
        d["momentum"] = pick([0.999999, 1e-6])
        if not d["nesterov"] and chance(0.5):
            d["dampening"] = pick([1.0, 0.999])
    if name == "RMSprop":
        if chance():
            d["alpha"] = pick([0.0, 0.999999])
        if d["momentum"] and chance():
            d["momentum"] = 0.999
    if name == "Adagrad":
        if chance():
            d["lr_decay"] = pick([1e-9, 10.0])
        if chance():
            d["initial_accumulator_value"] = pick([1e-30, 1e6])
    if name == "NAdam" and chance():
        d["momentum_decay"] = pick([0.0, 1.0, 100.0])
    if name in ("Adam", "NAdam", "RAdam") and chance(0.5):
        d["decoupled_weight_decay"] = bool(rng.rand() < 0.6)  # PyTorch >= 2.1 (NAdam, RAdam), >= 2.7 (Adam)
        if d["weight_decay"] == 0 and chance(0.7):
            d["weight_decay"] = pick([1e-3, 0.1, 1.0])
    if name == "Adadelta" and chance():
        d["rho"] = pick([0.0, 0.999999])
    if name in LECTURE:
        for k in ("N", "Ng", "Ns"):
            if k in d and chance():
                d[k] = pick([1, 1000000])
        if "alpha" in d and chance():
            d["alpha"] = pick([0.0, 0.999999])
    if name == "lars":
        if chance():
            d["trust_coefficient"] = pick([1e-9, 100.0])
        if chance():
            d["momentum"] = pick([0.0, 0.999999])
    if name == "adafactor":
        if chance():
            d["beta2_decay"] = pick([0.0, -1e-3, -10.0])
        if chance():
            d["eps"] = [pick([None, 0.0, 1e-30]), pick([0.0, 1e-30, 10.0])]
        if chance():
            d["d"] = pick([1.0, 1e6])
    if name == "adam_mini" and chance():
        d["block"] = pick([1, 4097, 1000000])
    if name == "adamw_schedulefree":
        if chance():
            d["warmup_steps"] = pick([1, 1000])
        if chance():
            d["r"] = pick([0.0, 10.0])
        if chance():
            d["weight_lr_power"] = pick([0.0, 10.0])


def edge_switches(rng, name, written):
    """torch.optim's implementation switches, as a PyTorch 2.x user might pass them (they change nothing)."""
    if (name in TORCH or name == "adafactor") and rng.rand() < 0.5:
        for k in SWITCHES:
            if rng.rand() < 0.5:
                written[k] = [True, False, None][int(rng.randint(3))]
    return written


def edge_data(rng, p0, grads, name, hp):
    """Puts zeros, -0.0, 1e-30, 1e19 and 1e30 in some places of p0 and the gradients."""
    if rng.rand() < 0.6:
        specials = EDGE_SPECIALS if rng.rand() < 0.5 else EDGE_SPECIALS[:4]
        where = rng.rand(*grads.shape) < rng.choice([0.01, 0.1, 0.5])
        grads[where] = np.asarray(specials, F32)[rng.randint(len(specials), size=int(where.sum()))]
        if name == "rmsprop_alpha":
            # Known divergence (tools/reference/known_divergences): OptGen keeps s = sigma^2, and a first
            # gradient below ~1e-19 squares to 0 in float32 (above ~1.8e19 to inf), so its step 1 does
            # not move where SCHEMA's sigma_1 = |g_1| moves by eta.  The draws leave such a first
            # gradient out.
            first = grads[0]
            first[(first != 0) & ((np.abs(first) < 1e-18) | (np.abs(first) > 1.8e19))] = 0
    if rng.rand() < 0.3:
        where = rng.rand(*p0.shape) < 0.2
        p0[where] = np.asarray([0.0, -0.0, 1e-30, -1e-30], F32)[rng.randint(4, size=int(where.sum()))]
    return p0, grads


def draw_layout(rng, name, i):
    """(tensors field or None, shapes); the kind of layout goes round with the case index."""
    if EDGE and rng.rand() < 0.5:
        t = EDGE_LENGTHS[int(rng.randint(len(EDGE_LENGTHS)))]
        return t, [list(x) for x in t]
    kind = (i + zlib.crc32(name.encode())) % 7
    n = int(rng.randint(1, 24))
    a, b = int(rng.randint(1, 7)), int(rng.randint(1, 7))
    if kind == 0:
        return None, [[n]]
    if kind == 1:
        return [[n]], [[n]]
    if kind == 2:
        return [[1, n]], [[1, n]]
    if kind == 3:
        return [[n, 1]], [[n, 1]]
    if kind == 4:
        t = [[a, b], [n]]
        return t, t
    if kind == 5:
        t = [[2, a, b], [b]]
        return t, t
    t = [[a, b], [1], [b, a], [n]]
    return t, t


def draw_data(rng, shapes, T, name):
    n = sum(int(np.prod(s)) for s in shapes)
    pscale = float(rng.choice(EXTREME_PSCALES if EXTREME else [1.0, 1.0, 1e-3, 30.0]))
    gscale = float(rng.choice(EXTREME_GSCALES if EXTREME else [1.0, 1.0, 1e-4, 1e-2, 1e2]))
    if name in ("SGD", "classic_momentum", "ema_momentum", "Adadelta", "adam_decoupled_eps"):
        pscale = max(pscale, gscale)                          # not scale invariant: keep steps visible
    p0 = (rng.standard_normal(n) * pscale).astype(F32)
    envelope = np.exp(np.linspace(0, math.log(float(rng.choice([1.0, 0.05, 20.0]))), T))
    grads = (rng.standard_normal((T, n)) * envelope[:, None] * gscale).astype(F32)
    zeros = rng.rand() < 0.3
    if zeros:
        grads[:, rng.rand(n) < 0.2] = 0                        # elements never given a gradient
        grads[rng.rand(T) < 0.15, :] = 0                       # whole steps without a gradient
        if rng.rand() < 0.5:
            grads[0, :] = 0
    return p0, grads, dict(pscale=pscale, gscale=gscale, zeros=zeros)


def draw_schedule(rng, base, T):
    kind = int(rng.randint(0, 4))
    if kind == 3:
        warmup = max(1, T // 5)
        return ([base * min(1.0, (t - 1) / warmup) for t in range(1, T + 1)],
                f"linear warm-up from 0: lr * min(1, (t-1)/{warmup}) (step 1 has lr 0)")
    if kind == 0:
        return gc.warmup_cosine(base, T, max(1, T // 5)), "linear warm-up over T/5 steps, then cosine to 0"
    if kind == 1:
        every = max(1, T // 4)
        return gc.step_decay(base, T, every, 0.5), f"step decay: lr * 0.5 ** floor((t-1)/{every})"
    factors = np.exp(np.cumsum(rng.uniform(-0.2, 0.2, T)))
    return [float(base * f) for f in factors], "a random walk: lr * exp(cumulative sum of U(-0.2, 0.2))"


# ----------------------------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------------------------

def run_torch(name, hp, shapes, p0, grads, lrs):
    """torch.optim 1.13.1, float32, foreach=False, one Parameter per tensor in its shape."""
    kwargs = {k: (tuple(v) if k == "betas" else v) for k, v in hp.items()}
    kwargs["foreach"] = False
    spans = gr.offsets(shapes)
    params = [torch.nn.Parameter(torch.tensor(p0[a:a + int(np.prod(s))]).reshape(s)) for a, s in spans]
    opt = getattr(torch.optim, name)(params, **kwargs)
    out = np.empty_like(grads)
    for t in range(grads.shape[0]):
        for q, (a, s) in zip(params, spans):
            q.grad = torch.tensor(grads[t, a:a + int(np.prod(s))]).reshape(s)
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[t]
        opt.step()
        out[t] = np.concatenate([q.detach().numpy().reshape(-1) for q in params])
    return out


def schedulefree_with_lrs(hp, shapes, p0, grads, lrs, dt):
    """ref_adamw_schedulefree with group['lr'] = lrs[t] before step t (lr_max tracks lr*warmup)."""
    original = gr.schedulefree_scalars

    def scalars(h, T):
        out, lr_max, weight_sum = [], -1.0, 0.0
        for k in range(T):
            sched = (k + 1) / h["warmup_steps"] if k < h["warmup_steps"] else 1.0
            lr = lrs[k] * sched
            lr_max = max(lr, lr_max)
            weight = ((k + 1) ** h["r"]) * (lr_max ** h["weight_lr_power"])
            weight_sum += weight
            out.append((lr, weight / weight_sum if weight_sum != 0 else 0.0))
        return out

    gr.schedulefree_scalars = scalars
    try:
        ev = np.empty_like(grads)
        return gr.ref_adamw_schedulefree(hp, shapes, p0, grads, None, dt, ev), ev
    finally:
        gr.schedulefree_scalars = original


def compute(name, hp, shapes, p0, grads, lrs):
    """(stored, eval or None, cross-check result, cross-check eval or None, what)."""
    if name in REDUCTIONS:
        if name == "adamw_schedulefree" and lrs is not None:
            (s, ev), (o, oev) = (schedulefree_with_lrs(hp, shapes, p0, grads, lrs, dt) for dt in (F64, F32))
        else:
            s, ev = gr.compute(name, hp, shapes, p0, grads, lrs, F64)
            o, oev = gr.compute(name, hp, shapes, p0, grads, lrs, F32)
        return s, ev, o, oev, "float32 emulation"
    if name in LECTURE:
        ref = gc.REFERENCES[name]
        return ref(hp, p0, grads, lrs, F64), None, ref(hp, p0, grads, lrs, F32), None, "float32 emulation"
    # torch.optim names.  maximize (NAdam, RAdam) = the same rule fed -grads.  decoupled_weight_decay
    # (torch >= 2.1 NAdam and RAdam, >= 2.7 Adam; 1.13.1 has none): Adam's is torch's AdamW, NAdam's
    # and RAdam's the float64 2.x formula.
    core = {k: v for k, v in hp.items() if not (name in EXTRA_TORCH_KEYS and k == "maximize")}
    decoupled = bool(core.pop("decoupled_weight_decay", False))
    g = -grads if name in EXTRA_TORCH_KEYS and hp.get("maximize") else grads
    if name == "Adam" and decoupled:
        name = "AdamW"
    if name in ("NAdam", "RAdam") and decoupled:
        core["decoupled_weight_decay"] = True
    ref = gc.REFERENCES[name]
    if name == "NAdam" or (name == "RAdam" and (hp.get("maximize") or decoupled)):
        return ref(core, p0, g, lrs, F64), None, ref(core, p0, g, lrs, F32), None, "float32 emulation"
    return run_torch(name, core, shapes, p0, g, lrs), None, ref(core, p0, g, lrs, F64), None, "float64 formula"


def reference_text(name, hp, has_schedule, what, measured):
    if name in REDUCTIONS:
        text = gr.REFERENCE_TEXT[name]
    elif name == "NAdam" or (name == "RAdam" and (hp.get("maximize") or hp.get("decoupled_weight_decay"))):
        text = (f"numpy float64 reference of the PyTorch 2.x {name} single-tensor formula"
                + (" (maximize: the rule fed -grad)" if hp.get("maximize") else "")
                + (" with decoupled_weight_decay (p <- p*(1 - lr*weight_decay) first)"
                   if hp.get("decoupled_weight_decay") and hp["weight_decay"] else "")
                + ", parameter rounded to float32 after every step")
    elif name in LECTURE:
        text = gc.reference_text(name, has_schedule)
    else:
        torch_name = "AdamW" if name == "Adam" and hp.get("decoupled_weight_decay") else name
        text = gc.TORCH_REF.format(torch_name) + ", one Parameter per tensor"
        if has_schedule:
            text += "; group['lr'] set to lr_per_step[t-1] before step t"
    return text + f"; cross-check against a {what}: max rel err {measured:.2e}"


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------

def written_hp(rng, name, hp):
    """What the file says: sometimes without the keys at their default, sometimes with integral
    values as JSON integers."""
    out = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in hp.items()}
    defaults = dict(gc.TORCH_KEYS.get(name, {}), **EXTRA_TORCH_KEYS.get(name, {}), **gr.KEYS.get(name, {}))
    if name in EXTRA_TORCH_KEYS and not out.get("maximize"):
        del out["maximize"]                                   # not a SCHEMA key: only when it matters
    if rng.rand() < 0.3:
        out = {k: v for k, v in out.items() if k not in defaults or defaults[k] is None or v != defaults[k]}
    if rng.rand() < 0.3:
        out = {k: (int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 1e9 else v)
               for k, v in out.items()}
    return out


def draw_case(seed, name, i, long_steps=None, keep_ill=False, store_emulation=False):
    for attempt in range(50):
        rng = np.random.RandomState(zlib.crc32(f"{seed}:{name}:{i}:{attempt}".encode()))
        hp = draw_hp(rng, name, i)
        tensors, shapes = draw_layout(rng, name, i)
        T = long_steps or int(rng.randint(5, 50))
        if EDGE and not long_steps and rng.rand() < 0.15:
            T = int(rng.randint(1, 4)) if rng.rand() < 0.5 else int(rng.randint(1500, 3000))
        if long_steps:
            tensors, shapes = ([[2, 3]], [[2, 3]]) if name in REDUCTIONS else (None, [[4]])
        if LARGE:
            # Exploring: tensors larger than the step engine's 16384-element pieces.
            T = 3
            tensors = shapes = [[int(rng.randint(120, 260)), int(rng.randint(100, 200))], [int(rng.randint(17000, 40000))]]
        if EDGE:
            # Keep the files small: a long run on a few elements, a large tensor for a few steps.
            size = sum(int(np.prod(x)) for x in shapes)
            if T > 100 and size > 20:
                shapes = tensors = [[3]]
            elif size > 1000:
                T = min(T, 4)
        p0, grads, data = draw_data(rng, shapes, T, name)
        if EDGE:
            p0, grads = edge_data(rng, p0, grads, name, hp)
        lrs, sched_text = None, None
        if rng.rand() < 0.25:
            lrs, sched_text = draw_schedule(rng, hp[gc.lr_key(name)], T)
        stored, ev, other, oev, what = compute(name, hp, shapes, p0, grads, lrs)
        if store_emulation and what == "float32 emulation":
            # Exploring: store the float32 emulation (what a float32 implementation such as torch 2.x's
            # NAdam or Adafactor writes) instead of the float64 reference.
            stored, ev, other, oev = other, oev, stored, ev
        measured = gc.rel_err(other, stored)
        if ev is not None:
            measured = max(measured, gc.rel_err(oev, ev))
        finite = np.all(np.isfinite(stored)) and (ev is None or np.all(np.isfinite(ev)))
        ok = finite and measured <= gc.DEFAULT_RTOL / 3
        if ok or (keep_ill and finite):
            break
    else:
        raise SystemExit(f"{name} {i}: no well-conditioned draw in 50 attempts")
    case_name = f"{'edge' if EDGE else 'random'}_{name.lower()}_{i:02d}" + ("_long" if long_steps else "") + ("" if ok else "_illcond")
    desc = (f"randomized case {i} of {name} (seed {seed}, attempt {attempt}): "
            f"{json.dumps(hp)}; layout {shapes}; data: p0 ~ N(0,1)*{data['pscale']:g}, "
            f"grads ~ N(0,1)*{data['gscale']:g} with an exponential envelope"
            + ("; zero gradients in places (elements, whole steps)" if data["zeros"] else "")
            + (f"; lr_per_step: {sched_text}" if lrs is not None else "")
            + ("" if ok else "; ILL-CONDITIONED: float32 rounding alone is above rtol/3"))
    case = dict(name=case_name, description=desc, optimizer=name,
                reference=reference_text(name, hp, lrs is not None, what, measured),
                hyperparameters=edge_switches(rng, name, written_hp(rng, name, hp)) if EDGE else written_hp(rng, name, hp), dtype="float32", n=len(p0), T=T,
                p0=p0, grads=grads, params_after_each_step=stored)
    if tensors is not None:
        case["tensors"] = tensors
    if lrs is not None:
        case["lr_per_step"] = lrs
    if ev is not None:
        case["params_eval_after_each_step"] = ev
    return case, measured, what


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--per-family", type=int, default=6)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--no-long", action="store_true", help="leave out the long runs")
    ap.add_argument("--keep-ill-conditioned", action="store_true")
    ap.add_argument("--only", nargs="*", help="only these optimizer names")
    ap.add_argument("--store-float32-emulation", action="store_true",
                    help="exploring: for float64-reference families store the float32 emulation "
                         "(a float32 implementation's result) as params_after_each_step")
    ap.add_argument("--extreme", action="store_true",
                    help="exploring: data scales near float32's limits (squares under- or overflow)")
    ap.add_argument("--edge", action="store_true",
                    help="values at the ends of every key's range, PyTorch 2.x switches and "
                         "decoupled_weight_decay, lengths 1/3/17/4097, 1-3 or 1500-3000 steps, data with "
                         "0, -0.0, 1e-30, 1e19 and 1e30; writes tests/conformance/cases/edge unless --out")
    ap.add_argument("--large", action="store_true",
                    help="exploring: 3 steps on a matrix and a vector of 17,000 to 40,000 elements")
    args = ap.parse_args(argv)
    global EXTREME, LARGE, EDGE
    EXTREME, LARGE, EDGE = args.extreme, args.large, args.edge
    if EDGE:
        args.no_long = True                                   # --edge draws its own long runs
        if args.out == DEFAULT_OUT:
            args.out = EDGE_OUT
    torch.set_num_threads(1)
    names = sorted(TORCH | LECTURE | REDUCTIONS)
    if args.only:
        names = [n for n in names if n in args.only]
    jobs = [(n, i, None) for n in names for i in range(args.per_family)]
    if not args.no_long:
        jobs += [(n, 0, LONG[n]) for n in names if n in LONG]
    os.makedirs(args.out, exist_ok=True)
    written = set()
    worst = 0.0
    for name, i, long_steps in jobs:
        case, measured, what = draw_case(args.seed, name, i, long_steps, args.keep_ill_conditioned,
                                             args.store_float32_emulation)
        path = os.path.join(args.out, case["name"] + ".json")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(gr.render(case))
        check_file(path, case)
        written.add(case["name"] + ".json")
        worst = max(worst, measured)
        print(f"{case['name']}: T={case['T']} n={case['n']} vs {what} {measured:.2e}")
    for stale in sorted({f for f in os.listdir(args.out) if f.endswith(".json")} - written):
        os.remove(os.path.join(args.out, stale))
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in written)
    print(f"wrote {len(written)} cases to {args.out} ({total / 1e6:.2f} MB); worst cross-check {worst:.2e}")


def check_file(path, case):
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    n, T = d["n"], d["T"]
    assert len(d["p0"]) == n and len(d["grads"]) == T and len(d["params_after_each_step"]) == T
    assert all(len(r) == n for r in d["grads"] + d["params_after_each_step"])
    assert sum(int(np.prod(s)) for s in (d.get("tensors") or [[n]])) == n
    for k in ("p0", "grads", "params_after_each_step") + (("params_eval_after_each_step",)
                                                         if "params_eval_after_each_step" in d else ()):
        assert np.array_equal(np.array(d[k], dtype=F64).astype(F32), np.asarray(case[k], F32)), k


if __name__ == "__main__":
    main()
