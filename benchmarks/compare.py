#!/usr/bin/env python3
"""Times SimShop's DQN update against the PyTorch reference on the same shapes.

Run by `make bench-compare`. Each repetition runs BenchmarkDQNUpdate on one core
(GOMAXPROCS=1) and the PyTorch reference with one thread, twice: once as it is, timed by
the wall clock, and once through torch_cpu_time.py, timed by process CPU time. It prints
every run, the medians, the ratio of the wall-clock medians, and as its last line the
ratio of the per-CPU-second medians: `dqn-update vs torch: R.RRx`.

Environment: TAGS (Go build tags, e.g. openblas), TORCH_BENCH (path of
torch_dqn_update.py), REPEATS (default 5), BENCH_SECONDS (per run, default 3), PYTHON (default
/usr/bin/python3).
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(cmd, env=None):
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout


def go_figures(binary, seconds, env):
    out = run([binary, "-test.run", "^$", "-test.bench", "^BenchmarkDQNUpdate$",
               "-test.benchtime", f"{seconds}s", "-test.cpu", "1"], env)
    for line in out.splitlines():
        if line.startswith("BenchmarkDQNUpdate"):
            fields = line.split()
            figures = {unit: float(value) for value, unit in zip(fields[2::2], fields[3::2])}
            return figures["updates/s"], figures["updates/cpu-s"]
    sys.exit("bench-compare: no BenchmarkDQNUpdate line in:\n" + out)


def torch_figure(cmd, env):
    lines = [l for l in run(cmd, env).splitlines() if l.startswith("{")]
    return json.loads(lines[-1])["updates_per_s"]


def main():
    tags = os.environ.get("TAGS", "")
    torch_bench = os.environ.get("TORCH_BENCH", os.path.join(ROOT, "..", "shared", "bench", "torch_dqn_update.py"))
    repeats = int(os.environ.get("REPEATS", "5"))
    seconds = os.environ.get("BENCH_SECONDS", "3")
    python = os.environ.get("PYTHON", "/usr/bin/python3")
    if not os.path.exists(torch_bench):
        sys.exit(f"bench-compare: PyTorch reference {torch_bench} not found; set TORCH_BENCH to torch_dqn_update.py")

    env = dict(os.environ, GOMAXPROCS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    shape = run(["go", "run", "./benchmarks/torchshape"]).split()
    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, "benchmarks.test")
        run(["go", "test", "-c", "-o", binary, "-tags", tags, "./benchmarks"])
        torch = [python, torch_bench, *shape, "--threads", "1", "--seconds", seconds]
        torch_cpu = [python, os.path.join(HERE, "torch_cpu_time.py"), *torch[1:]]

        cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
        print(f"machine: {cpu_model}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
        print(f"go build tags: {tags or '(none: pure Go)'}; shapes: {' '.join(shape)}; {repeats} runs of {seconds} s each")
        print(f"{'run':>4} {'go updates/s':>14} {'go updates/cpu-s':>18} {'torch updates/s':>17} {'torch updates/cpu-s':>21}")
        rows = []
        for r in range(repeats):
            go_wall, go_cpu = go_figures(binary, seconds, env)
            t_wall = torch_figure(torch, env)
            t_cpu = torch_figure(torch_cpu, env)
            rows.append((go_wall, go_cpu, t_wall, t_cpu))
            print(f"{r + 1:>4} {go_wall:>14.1f} {go_cpu:>18.1f} {t_wall:>17.1f} {t_cpu:>21.1f}", flush=True)
    med = [statistics.median(col) for col in zip(*rows)]
    print(f"{'med':>4} {med[0]:>14.1f} {med[1]:>18.1f} {med[2]:>17.1f} {med[3]:>21.1f}")
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    print(f"dqn-update vs torch, wall clock: {med[0] / med[2]:.2f}x")
    print(f"dqn-update vs torch: {med[1] / med[3]:.2f}x")


if __name__ == "__main__":
    main()
