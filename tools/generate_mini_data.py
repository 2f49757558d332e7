"""Generate the embedded mini datasets: ``python tools/generate_mini_data.py [--out data]``.

A thin command line over :mod:`mm_cbam.mini_data` (also ``python -m mm_cbam.mini_data``).
"""
import sys

from mm_cbam.mini_data.cli import main

if __name__ == '__main__':
    sys.exit(main())
