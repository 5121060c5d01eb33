#!/usr/bin/env python3
"""Interleaved A/B of shipwatch builds against the durable reference, for a machine whose speed varies
from minute to minute: each round runs every build once through shipwatch-bench (each run measures the
durable reference too, with the same bodies), and the medians of the rounds are compared.

    python3 src-tauri/crates/bench/tools/ab.py ROUNDS STORED BUILD_A BUILD_B ...

STORED is the bench's --stored (e.g. 0, or 0,50000); the figures are those of its last checkpoint.
BUILD is a shipwatch binary (or a script exec'ing one with settings). Each run skips the steady rate
and measures the views once (--rate 0 --view-requests 1); it reads the bench's --json output.
Environment: BENCH (default target/release/shipwatch-bench), WORK (data dirs; default the system temp
dir), EXTRA (more bench flags)."""
import json, os, statistics, subprocess, sys, tempfile

rounds = int(sys.argv[1]); stored = sys.argv[2]; bins = sys.argv[3:]
bench = os.environ.get('BENCH', 'target/release/shipwatch-bench')
work = os.environ.get('WORK', tempfile.gettempdir()); extra = os.environ.get('EXTRA', '').split()
res = {b: [] for b in bins}
for r in range(rounds):
    for b in bins:
        with tempfile.NamedTemporaryFile(suffix='.json') as out:
            subprocess.run([bench, '--work-dir', work, '--stored', stored, '--rate', '0', '--view-requests', '1',
                            '--shipwatch', b, '--json', out.name] + extra, capture_output=True, text=True)
            try:
                last = json.load(open(out.name))['checkpoints'][-1]
            except (ValueError, KeyError, IndexError):
                print(f"round {r+1} {os.path.basename(b)}: no result", flush=True)
                continue
        ingest, durable, storm = last.get('ingest'), last.get('durable'), last.get('retry_storm')
        if not (ingest and durable):
            continue
        sw, du = ingest['summary']['deliveries_per_s'], durable['summary']['deliveries_per_s']
        cpu = (ingest.get('cost') or {}).get('target_cpu_us', 0)
        st = storm['summary']['deliveries_per_s'] if storm else 0
        res[b].append((sw / du, sw, du, ingest['summary']['p99_ms'], cpu, st / sw if sw else 0))
        v = res[b][-1]
        print(f"round {r+1} {os.path.basename(b)}: {v[0]:.2f}x ({v[1]:.0f}/{v[2]:.0f}/s, {v[4]:.0f} us/post), "
              f"retry storm {v[5]:.2f}x", flush=True)
print()
for b in bins:
    v = res[b]
    if not v:
        continue
    ratios = [x[0] for x in v]
    med = lambda i: statistics.median(x[i] for x in v)
    print(f"{os.path.basename(b):14s} at {stored.split(',')[-1]} stored: ratio median {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f} max {max(ratios):.2f})  shipwatch median {med(1):.0f}/s  durable median {med(2):.0f}/s  "
          f"p99 median {med(3):.1f} ms  cpu median {med(4):.0f} us  retry storm / new median {med(5):.2f}x")
