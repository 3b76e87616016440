"""Seeded benchmark scripts: accuracy (DET curves) and cost, side by side with peer models.

Run them from the repository root, e.g. ``python -m benchmarks.accuracy --quick``; see
``benchmarks/RESULTS.md`` for which command regenerates which table.
"""
