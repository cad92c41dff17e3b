#!/usr/bin/env python3
"""Runs the PyTorch DQN-update reference with its clock set to process CPU time.

Usage: torch_cpu_time.py REFERENCE.py [its flags...]

The reference times its loop with time.perf_counter. This wrapper replaces that clock by
time.process_time before running the reference, so that its updates_per_s becomes updates
per CPU-second of the process, the figure that other jobs on a shared machine disturb least.
With one torch thread, the process CPU time is that thread's time plus the interpreter's.
"""
import runpy
import sys
import time

if len(sys.argv) < 2:
    sys.exit("usage: torch_cpu_time.py REFERENCE.py [flags...]")
time.perf_counter = time.process_time
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
