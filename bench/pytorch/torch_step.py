#!/usr/bin/python3
"""PyTorch CPU side-by-side: ms per optimizer step for the rules of the OptGen quick benchmark.

Run with Debian's python3-torch (1.13): /usr/bin/python3 bench/pytorch/torch_step.py [--threads 1] [--sizes 1M,16M]
Prints one line per rule and size: `torch <rule>/<elements>/<threads> <ms per step> ms <GB/s>`, where GB/s counts
the same bytes as the OptGen table (the rule's fused traffic), so it is directly comparable with the
"generated GB/s" column of a run taken close in time. Timing: median of per-step times after warm-up.
"""
import argparse
import statistics
import time

import torch


def rules():
    # name, factory, fused bytes per element (p, g, state read; p, state written)
    return [
        ("Adam", lambda ps: torch.optim.Adam(ps, lr=1e-3), 28),
        ("AdamW", lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=1e-2), 28),
        ("SGD-momentum", lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=0.9), 20),
        ("RMSprop", lambda ps: torch.optim.RMSprop(ps, lr=1e-2, alpha=0.99, eps=1e-8), 20),
        ("Adagrad", lambda ps: torch.optim.Adagrad(ps, lr=1e-2, eps=1e-10), 20),
    ]


def parse_sizes(text):
    out = []
    for s in text.split(","):
        s = s.strip().upper()
        if s.endswith("M"):
            out.append(int(s[:-1]) << 20)
        elif s.endswith("K"):
            out.append(int(s[:-1]) << 10)
        else:
            out.append(int(s))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sizes", default="1M,16M")
    ap.add_argument("--steps", type=int, default=15)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, {args.threads} thread(s)")
    for n in parse_sizes(args.sizes):
        for name, make, nbytes in rules():
            p = torch.nn.Parameter(torch.rand(n) * 2 - 1)
            p.grad = (torch.rand(n) - 0.5) * 1e-2
            opt = make([p])
            for _ in range(3):
                opt.step()
            times = []
            for _ in range(args.steps):
                t0 = time.perf_counter()
                opt.step()
                times.append(time.perf_counter() - t0)
            ms = statistics.median(times) * 1e3
            print(f"torch {name}/{n}/{args.threads} {ms:.3f} ms {nbytes * n / (ms * 1e6):.1f} GB/s", flush=True)
            del opt, p


if __name__ == "__main__":
    main()
