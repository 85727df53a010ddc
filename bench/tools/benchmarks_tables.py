#!/usr/bin/env python3
"""Prints BENCHMARKS.md's result tables from two quick-mode outputs.

    python3 bench/tools/benchmarks_tables.py bench/results/<run A>.txt bench/results/<run B>.txt

Prints two Markdown tables: every `ratio` line of both runs side by side, with its target and run B's
milliseconds and IQR from the printed table; and run A's `# floor` lines. Nothing is computed that quick mode did
not print, so the tables are a re-arrangement of the raw outputs kept in bench/results.
"""

import re
import sys
from pathlib import Path


def target(name: str) -> str:
    """The issue's target for a ratio name kind/rule/elements/threads, or '' where it sets none."""
    kind, _rule, elements, threads = name.split("/")
    elements = int(elements)
    if kind == "roofline":
        return "≤ 1.10" if elements <= 1 << 20 else "≤ 1.05"
    if kind == "unfused" and elements == 1 << 24 and threads == "1":
        return "≥ 3.5"
    if kind == "many-tensors":
        return "≤ 1.10"
    if kind == "bf16-state":
        return "≤ 0.80"
    return ""


def read(path: Path):
    """The run's ratio lines (in order), its table rows by pair name, and its floor lines."""
    ratios, rows, floors = {}, {}, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("ratio "):
            _, name, value = line.split()
            ratios[name] = value
        elif line.startswith("| ") and not line.startswith("| pair") and not line.startswith("| ---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells
        else:
            m = re.match(r"# floor (\S+)/(\d): arithmetic (\S+) ns/element, memory (\S+) ns/element, floor (\S+), measured (\S+)", line)
            if m:
                floors.append(m.groups())
    return ratios, rows, floors


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    a_path, b_path = Path(argv[1]), Path(argv[2])
    a, _, a_floors = read(a_path)
    b, b_rows, _ = read(b_path)
    a_name, b_name = a_path.stem.split("-")[-1], b_path.stem.split("-")[-1]

    print(f"| pair | run {a_name} | run {b_name} | target | numerator ms ({b_name}) | denominator ms ({b_name}) | IQR ({b_name}) |")
    print("| --- | ---: | ---: | --- | ---: | ---: | --- |")
    for name, value in a.items():
        row = b_rows.get(name, [name, "", "", "", "", "", "", ""])
        print(f"| {name} | {value} | {b.get(name, '')} | {target(name)} | {row[3]} | {row[4]} | {row[6]} |")

    print()
    print("| rule | arithmetic (ns/element, 1 thread) | memory-only at 1M, 1 thread | floor, 1 thread | measured, 1 thread | floor, 2 threads | measured, 2 threads |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    by_rule = {}
    for rule, threads, arithmetic, memory, floor, measured in a_floors:
        by_rule.setdefault(rule, {})[threads] = (arithmetic, memory, floor, measured)
    for rule, t in by_rule.items():
        one, two = t.get("1"), t.get("2")
        if one is None or two is None:
            continue
        print(f"| {rule} | {one[0]} | {one[1]} | {one[2]} | {one[3]} | {two[2]} | {two[3]} |")


if __name__ == "__main__":
    main(sys.argv)
