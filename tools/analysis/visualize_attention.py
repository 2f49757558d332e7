"""Attention overlays for images: ``python tools/analysis/visualize_attention.py ...``.

A thin command line over :mod:`mm_cbam.analysis.visualize_attention` (also
``python -m mm_cbam.analysis.visualize_attention``).
"""
import sys

from mm_cbam.analysis.visualize_attention import main

if __name__ == '__main__':
    sys.exit(main())
