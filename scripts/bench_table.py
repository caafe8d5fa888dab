#!/usr/bin/env python3
"""Turn criterion's estimates (target/criterion) into ns/op and ratio tables.

Usage: python3 scripts/bench_table.py [target/criterion]
Prints a markdown table: one row per operation/key/size, ns per element for
gomap, hashbrown and std, and the ratios gomap/hashbrown and gomap/std.
"""
import json
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
rows = {}
for dirpath, _, files in os.walk(root):
    if "estimates.json" not in files or not dirpath.endswith("/new"):
        continue
    bench = os.path.join(dirpath, "benchmark.json")
    if not os.path.exists(bench):
        continue
    meta = json.load(open(bench))
    if meta.get("value_str") is None or "/" not in meta["group_id"]:
        continue  # not the ops grid (gomap-govern's overhead or export bench)
    est = json.load(open(os.path.join(dirpath, "estimates.json")))
    thr = meta.get("throughput") or {}
    per = thr.get("Elements") or thr.get("Bytes") or 1
    ns = est["median"]["point_estimate"] / per
    group = meta["group_id"]
    impl, size = meta["function_id"], int(meta["value_str"])
    rows.setdefault((group, size), {})[impl] = ns

order = ["insert_grow", "insert_reserved", "lookup_hit", "lookup_miss", "remove", "iterate"]
def key(k):
    op, kt = k[0].split("/")
    return (kt, order.index(op) if op in order else 99, k[1])

print("| operation | keys | n | gomap ns | hashbrown ns | std ns | gomap/hashbrown | gomap/std |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for k in sorted(rows, key=key):
    r = rows[k]
    g, h, s = r.get("gomap"), r.get("hashbrown"), r.get("std")
    fmt = lambda x: f"{x:.1f}" if x is not None else "–"
    ratio = lambda a, b: f"{a / b:.2f}" if a and b else "–"
    op, kt = k[0].split("/")
    print(f"| {op} | {kt} | {k[1]:.0e} | {fmt(g)} | {fmt(h)} | {fmt(s)} | {ratio(g, h)} | {ratio(g, s)} |")
