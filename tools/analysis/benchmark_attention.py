"""Attention forward/backward speed and memory, fused vs literal:
``python tools/analysis/benchmark_attention.py ...``.

A thin command line over :mod:`mm_cbam.analysis.benchmark_attention` (also
``python -m mm_cbam.analysis.benchmark_attention``).
"""
import sys

from mm_cbam.analysis.benchmark_attention import main

if __name__ == '__main__':
    sys.exit(main())
