"""The benchmarks, run as modules from the repository root: `python -m benchmarks.train_throughput`, ...

Imports nothing: `benchmarks.peer_pix2pix` must run in TensorFlow's default environment, which importing
tfcolor (as every other benchmark does first) would change. `benchmarks.machine` is their shared helper:
the machine they ran on, and `record`, the one way to append a table to benchmarks/RESULTS.md.
"""
