"""Cross-backend benchmark runner (``make bench-all`` = ``python -m benchmarks run``).

Starts each recipe's server by its own ``make serve`` (its own venv), one at a time under the machine-wide
bench lock, drives every backend of a task with one load generator (:mod:`benchmarks.loadgen`) and one
workload, and writes ``benchmarks/results/<task>.json`` (provenance, per-level statistics, RSS, cold start,
cost) plus one figure per task. The Benchmarks page is rendered from those files by
:mod:`cookbook.benchpage`.
"""
