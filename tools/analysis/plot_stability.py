"""Stability plots and summary of training runs: ``python tools/analysis/plot_stability.py ...``.

A thin command line over :mod:`mm_cbam.analysis.plot_stability` (also
``python -m mm_cbam.analysis.plot_stability``).
"""
import sys

from mm_cbam.analysis.plot_stability import main

if __name__ == '__main__':
    sys.exit(main())
