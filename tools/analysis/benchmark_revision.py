"""Attention speed of this checkout vs another revision:
``python tools/analysis/benchmark_revision.py ...``.

A thin command line over :mod:`mm_cbam.analysis.benchmark_revision` (also
``python -m mm_cbam.analysis.benchmark_revision``).
"""
import sys

from mm_cbam.analysis.benchmark_revision import main

if __name__ == '__main__':
    sys.exit(main())
