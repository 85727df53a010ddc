#!/usr/bin/env python3
"""PyTorch's torch.optim.Adam(fused=True) on the same GPU and sizes as OptGen.Bench.Gpu (docs/gpu-benchmark.md).

    python3 torch_adam.py [--sizes 16M,256M] [--tensors 200] [--steps 100] [--warmup 10] [--json torch-adam.json]
    python3 torch_adam.py --compare optgen-gpu.json torch-adam.json

Timing is the same as the .NET benchmark's: wall clock around `steps` calls, with the device synchronized before
and after, divided by `steps`. Bandwidth counts the bytes a fused Adam step must move for float32: p, g, m, v read
and p, m, v written (28 bytes per element); a copy moves 8 bytes per element.
"""
import argparse
import datetime
import json
import sys
import time

ADAM_BYTES = 28
COPY_BYTES = 8


def parse_size(text):
    text = text.strip()
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1].upper() in units:
        return int(text[:-1]) * units[text[-1].upper()]
    return int(text)


def mixed_lengths(n, count):
    """The mixed tensor sizes of OptGen.Bench.Gpu's MixedLayout: weight 1 + (j*2654435761 mod 2^32) mod 1000."""
    weights = [1 + ((j * 2654435761) % (1 << 32)) % 1000 for j in range(count)]
    total = sum(weights)
    lengths = [n * w // total for w in weights]
    lengths[-1] += n - sum(lengths)
    return lengths


def seconds_per_call(torch, fn, steps, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def measure(args):
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed for this python3.", file=sys.stderr)
        return 2

    if not torch.cuda.is_available():
        print("No CUDA device visible to PyTorch.", file=sys.stderr)
        return 2
    device = torch.cuda.get_device_name(0)
    print(f"device: {device}; torch {torch.__version__}, CUDA {torch.version.cuda}")
    print(f"date (UTC): {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}")
    print(f"| elements | Adam(fused) step (ms) | Adam GB/s | D2D copy GB/s | Adam / copy | {args.tensors} tensors step (ms) | {args.tensors} tensors / one |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for n in [parse_size(s) for s in args.sizes.split(",")]:
        generator = torch.Generator(device="cuda").manual_seed(1)
        p = torch.nn.Parameter(torch.rand(n, device="cuda", generator=generator) * 2 - 1)
        p.grad = torch.rand(n, device="cuda", generator=generator) * 2 - 1
        optimizer = torch.optim.Adam([p], lr=1e-3, fused=True)
        adam = seconds_per_call(torch, optimizer.step, args.steps, args.warmup)
        destination = torch.empty_like(p.data)
        copy = seconds_per_call(torch, lambda: destination.copy_(p.data), args.steps, args.warmup)
        if not torch.isfinite(p.data[:1024]).all():
            print("The parameters are not finite after the benchmark.", file=sys.stderr)
            return 4
        adam_gbs = ADAM_BYTES * n / adam / 1e9
        copy_gbs = COPY_BYTES * n / copy / 1e9
        del optimizer, p, destination
        torch.cuda.empty_cache()

        # The same total size as many mixed-size tensors in two param groups (fused multi-tensor apply).
        lengths = mixed_lengths(n, args.tensors)
        params = []
        for length in lengths:
            q = torch.nn.Parameter(torch.rand(length, device="cuda", generator=generator) * 2 - 1)
            q.grad = torch.rand(length, device="cuda", generator=generator) * 2 - 1
            params.append(q)
        half = len(params) // 2
        optimizer = torch.optim.Adam([{"params": params[:half]}, {"params": params[half:]}], lr=1e-3, fused=True)
        many = seconds_per_call(torch, optimizer.step, args.steps, args.warmup)
        print(f"| {n:,} | {adam * 1e3:.3f} | {adam_gbs:.0f} | {copy_gbs:.0f} | {adam_gbs / copy_gbs:.2f} | {many * 1e3:.3f} | {many / adam:.2f} |")
        rows.append({"elements": n, "adamStepMs": adam * 1e3, "adamGBs": adam_gbs, "copyGBs": copy_gbs, "adamOverCopy": adam_gbs / copy_gbs,
                     "tensorsStepMs": many * 1e3, "tensorsOverOne": many / adam})
        del optimizer, params
        torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({
                "benchmark": "torch-adam-fused",
                "device": device,
                "torch": torch.__version__,
                "cuda": torch.version.cuda,
                "dateUtc": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "steps": args.steps,
                "tensors": args.tensors,
                "results": rows,
            }, f, indent=2)
        print(f"wrote {args.json}")
    return 0


def compare(optgen_path, torch_path):
    with open(optgen_path) as f:
        optgen = json.load(f)
    with open(torch_path) as f:
        torch_results = json.load(f)
    print(f"OptGen (ILGPU) on {optgen['device']}, {optgen['dateUtc'][:16]} UTC; PyTorch {torch_results['torch']} on {torch_results['device']}")
    tensors = optgen.get("tensors", "many")
    print(f"| elements | OptGen Adam GB/s | torch Adam(fused) GB/s | OptGen / torch | OptGen / D2D copy (same run) | OptGen / same-bytes kernel "
          f"| OptGen {tensors} tensors / one | OptGen {tensors} tensors (ms) | torch {tensors} tensors (ms) | OptGen / torch, {tensors} tensors (time) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    theirs = {row["elements"]: row for row in torch_results["results"]}
    for row in optgen["results"]:
        other = theirs.get(row["elements"])
        ratio = f"{row['adamGBs'] / other['adamGBs']:.2f}" if other else "n/a"
        torch_gbs = f"{other['adamGBs']:.0f}" if other else "n/a"
        torch_many = f"{other['tensorsStepMs']:.3f}" if other else "n/a"
        many_ratio = f"{row['tensorsStepMs'] / other['tensorsStepMs']:.2f}" if other else "n/a"
        print(f"| {row['elements']:,} | {row['adamGBs']:.0f} | {torch_gbs} | {ratio} | {row['adamOverCopy']:.2f} | {row['adamOverSameBytes']:.2f} "
              f"| {row['tensorsOverOne']:.2f} | {row['tensorsStepMs']:.3f} | {torch_many} | {many_ratio} |")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="16M,256M")
    parser.add_argument("--tensors", type=int, default=200)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--json")
    parser.add_argument("--compare", nargs=2, metavar=("OPTGEN_JSON", "TORCH_JSON"))
    args = parser.parse_args()
    return compare(*args.compare) if args.compare else measure(args)


if __name__ == "__main__":
    sys.exit(main())
