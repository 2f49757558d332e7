"""One-shot GPU check of the attention: ``python tools/analysis/gpu_check.py ...``.

A thin command line over :mod:`mm_cbam.analysis.gpu_check` (also
``python -m mm_cbam.analysis.gpu_check``).
"""
import sys

from mm_cbam.analysis.gpu_check import main

if __name__ == '__main__':
    sys.exit(main())
