#!/usr/bin/env python3
"""Conformance ratchet: run ../shared/conformance/verify.py on bin/vigil and
compare with the recorded baseline.

Fails (exit 1) when a test listed as passing in the baseline fails now, so the
score can only go up. With --update, writes the current passing set as the new
baseline (refusing to record a lower score unless --force).

Usage: ratchet.py --shared ../shared --engine bin/vigil --baseline testdata/conformance-baseline.txt [--update]
"""
import argparse
import os
import re
import subprocess
import sys


def run_verify(shared, engine, jobs, timeout):
    verify = os.path.join(shared, "conformance", "verify.py")
    cmd = [sys.executable, verify, "--engine", os.path.abspath(engine), "-j", str(jobs), "--timeout", str(timeout)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    status = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"^(PASS|FAIL|SKIP)\s+(\S+)(.*)$", line)
        if m:
            status[m.group(2)] = (m.group(1), m.group(3).strip(" -"))
    if proc.returncode != 0 or not status:
        sys.stdout.write(proc.stdout)
        raise SystemExit("ratchet: verify.py failed (exit %d)" % proc.returncode)
    return status, proc.stdout


def read_baseline(path):
    passing = set()
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == "pass":
                    passing.add(parts[1])
    return passing


def write_baseline(path, status):
    names = sorted(n for n, (s, _) in status.items() if s == "PASS")
    with open(path, "w") as f:
        f.write("# Conformance baseline: the tests of ../shared/conformance (suricata-verify,\n")
        f.write("# public subset) that bin/vigil passes. `make verify` (and CI) fails when one\n")
        f.write("# of them stops passing; `make verify-update` records a higher score.\n")
        f.write("# score: %d of %d\n" % (len(names), len(status)))
        for n in names:
            f.write("pass %s\n" % n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--engine", default="bin/vigil")
    ap.add_argument("--baseline", default="testdata/conformance-baseline.txt")
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--force", action="store_true", help="with --update: record even a lower score")
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=60)
    args = ap.parse_args()

    status, out = run_verify(args.shared, args.engine, args.j, args.timeout)
    # The per-area table and totals from verify.py.
    tail = out.strip().splitlines()
    start = next((i for i, l in enumerate(tail) if l.startswith("area")), len(tail))
    print("\n".join(tail[start:-1]))

    base = read_baseline(args.baseline)
    now = {n for n, (s, _) in status.items() if s == "PASS"}
    lost = sorted(base - now)
    gained = sorted(now - base)
    for n in gained:
        print("newly passing: %s" % n)
    for n in lost:
        print("REGRESSION: %s no longer passes: %s" % (n, status.get(n, ("MISSING", "not run"))[1]))
    if args.update:
        if len(now) < len(base) and not args.force:
            raise SystemExit("ratchet: refusing to lower the baseline from %d to %d" % (len(base), len(now)))
        write_baseline(args.baseline, status)
        print("baseline written: %d passing" % len(now))
    failed = sum(1 for s, _ in status.values() if s == "FAIL")
    print("baseline: %d passing recorded, %d regressions" % (len(base), len(lost)))
    print("conformance: %d passed, %d failed" % (len(now), failed))
    if lost and not args.update:
        sys.exit(1)


if __name__ == "__main__":
    main()
