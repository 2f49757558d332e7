"""Parameters, step time and memory of whole models:
``python tools/analysis/benchmark_model.py ...``.

A thin command line over :mod:`mm_cbam.analysis.benchmark_model` (also
``python -m mm_cbam.analysis.benchmark_model``).
"""
import sys

from mm_cbam.analysis.benchmark_model import main

if __name__ == '__main__':
    sys.exit(main())
