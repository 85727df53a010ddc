"""Generate reference learning rates from torch.optim.lr_scheduler (PyTorch 1.13.1).

Run with Debian's own interpreter and Debian's PyTorch:

    apt-get install -y python3-torch
    /usr/bin/python3 tools/reference/generate_schedules.py [--out DIR]

It writes one ``<name>.json`` per schedule into ``tests/conformance/schedules/`` (relative to the
repository root; ``--out`` overrides), compact single-line JSON:

    {"name": ..., "scheduler": "<torch.optim.lr_scheduler class>",
     "arguments": {every constructor argument except the optimizer, defaults included},
     "base_lr": <the lr the optimizer was constructed with>, "steps": K,
     "lr": [lr used at optimizer step 1, ..., lr used at optimizer step K]}

Which lr is recorded: a dummy one-element parameter is optimized with ``torch.optim.SGD(lr=
base_lr)``; the scheduler is constructed right after the optimizer (its constructor sets the lr
for step 1), and for t = 1..K the script reads ``optimizer.param_groups[0]['lr']``, calls
``optimizer.step()`` and then ``scheduler.step()`` (PyTorch's convention: the scheduler steps
after the optimizer).  So ``lr[t-1]`` is the lr in the param group at the time of optimizer step
t, i.e. the schedule evaluated at ``last_epoch = t - 1``.  Values are the Python doubles torch
holds (the optimizer itself rounds them to float32 when it applies them).

``LambdaLR`` takes a Python function; its ``arguments.lr_lambda`` is that function written as a
formula of ``epoch`` (= t - 1).  ``SequentialLR``'s ``arguments.schedulers`` lists the child
schedulers as ``{"scheduler", "arguments"}`` objects, in order.  ``OneCycleLR`` ignores the
optimizer's lr (it starts at max_lr / div_factor); its ``base_lr`` field is that starting value,
which is also what the optimizer is constructed with.
"""

import argparse
import inspect
import json
import math
import os
import warnings

import torch
from torch.optim import lr_scheduler as S

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "conformance", "schedules")

# LambdaLR factors: (formula text, function of epoch = t - 1)
LAMBDAS = {
    "inverse_sqrt": ("1 / sqrt(epoch + 1)", lambda e: 1.0 / math.sqrt(e + 1)),
    "inverse_t": ("1 / (epoch + 1)", lambda e: 1.0 / (e + 1)),
    "inverse_sqrt_warmup": ("min((epoch + 1) / 10, sqrt(10 / (epoch + 1)))",
                            lambda e: min((e + 1) / 10, math.sqrt(10 / (e + 1)))),
}


def full_arguments(cls, given):
    """Every constructor argument except the optimizer, defaults filled in from the signature."""
    params = inspect.signature(cls.__init__).parameters
    out = {}
    for name, p in params.items():
        if name in ("self", "optimizer"):
            continue
        if name in given:
            out[name] = given[name]
        elif p.default is inspect.Parameter.empty:
            raise ValueError(f"{cls.__name__}: {name} is required")
        else:
            out[name] = p.default
    unknown = set(given) - set(out)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown arguments {sorted(unknown)}")
    return out


def schedules():
    """(name, scheduler class name, arguments, base_lr, K)."""
    return [
        ("step_lr", "StepLR", dict(step_size=10, gamma=0.5), 0.1, 50),
        ("multi_step_lr", "MultiStepLR", dict(milestones=[10, 25, 40], gamma=0.1), 0.1, 50),
        ("exponential_lr", "ExponentialLR", dict(gamma=0.95), 0.1, 50),
        ("cosine_annealing_lr", "CosineAnnealingLR", dict(T_max=40, eta_min=0.001), 0.1, 40),
        ("linear_lr_warmup", "LinearLR", dict(start_factor=0.1, end_factor=1.0, total_iters=10),
         0.1, 30),
        ("one_cycle_lr_cos", "OneCycleLR",
         dict(max_lr=0.1, total_steps=50, pct_start=0.3, anneal_strategy="cos",
              three_phase=False), 0.1 / 25.0, 50),
        ("sequential_linear_warmup_cosine", "SequentialLR",
         dict(schedulers=[("LinearLR", dict(start_factor=0.01, end_factor=1.0, total_iters=10)),
                          ("CosineAnnealingLR", dict(T_max=40, eta_min=0.0))],
              milestones=[10]), 0.1, 50),
        ("lambda_inverse_sqrt", "LambdaLR", dict(lr_lambda="inverse_sqrt"), 0.1, 50),
        ("lambda_inverse_t", "LambdaLR", dict(lr_lambda="inverse_t"), 0.1, 50),
        ("lambda_inverse_sqrt_warmup", "LambdaLR", dict(lr_lambda="inverse_sqrt_warmup"), 0.1,
         50),
    ]


def construct(opt, cls_name, args):
    """Build the scheduler; return (scheduler, JSON arguments)."""
    cls = getattr(S, cls_name)
    if cls_name == "LambdaLR":
        text, fn = LAMBDAS[args["lr_lambda"]]
        return cls(opt, lr_lambda=fn), full_arguments(cls, dict(args, lr_lambda=text))
    if cls_name == "SequentialLR":
        children, child_json = [], []
        for child_name, child_args in args["schedulers"]:
            sched, j = construct(opt, child_name, child_args)
            children.append(sched)
            child_json.append({"scheduler": child_name, "arguments": j})
        sched = cls(opt, schedulers=children, milestones=args["milestones"])
        return sched, full_arguments(cls, dict(args, schedulers=child_json))
    return cls(opt, **args), full_arguments(cls, args)


def run(name, cls_name, args, base_lr, K):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=base_lr)
    sched, json_args = construct(opt, cls_name, args)
    lrs = []
    for _ in range(K):
        lrs.append(float(opt.param_groups[0]["lr"]))
        param.grad = torch.zeros(1)
        opt.step()
        sched.step()
    return {"name": name, "scheduler": cls_name, "arguments": json_args, "base_lr": base_lr,
            "steps": K, "lr": lrs}


def main(argv=None):
    # SequentialLR calls scheduler.step(0) at a milestone, which warns about the epoch argument.
    warnings.filterwarnings("ignore", message="The epoch parameter in `scheduler.step()`")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    specs = schedules()
    names = {s[0] for s in specs}
    for f in os.listdir(args.out):
        if f.endswith(".json") and f[:-5] not in names:
            os.remove(os.path.join(args.out, f))
    for spec in specs:
        d = run(*spec)
        assert len(d["lr"]) == d["steps"] and all(math.isfinite(x) for x in d["lr"])
        text = json.dumps(d, separators=(",", ":"), allow_nan=False)
        path = os.path.join(args.out, d["name"] + ".json")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        with open(path, encoding="utf-8") as f:
            assert json.load(f) == d
        lr = d["lr"]
        print(f"{d['name']}: {d['scheduler']} K={d['steps']} lr[0]={lr[0]:.6g} "
              f"max={max(lr):.6g} lr[-1]={lr[-1]:.6g}")


if __name__ == "__main__":
    main()
