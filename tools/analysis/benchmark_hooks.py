"""Cost of the stability hook on the mini detector:
``python tools/analysis/benchmark_hooks.py ...``.

A thin command line over :mod:`mm_cbam.analysis.benchmark_hooks` (also
``python -m mm_cbam.analysis.benchmark_hooks``).
"""
import sys

from mm_cbam.analysis.benchmark_hooks import main

if __name__ == '__main__':
    sys.exit(main())
