"""The main job on the embedded mini data: ``python tools/demo.py`` (from the checkout).

A thin command line over :mod:`mm_cbam.demo` (also ``python -m mm_cbam.demo``).
"""
import sys

from mm_cbam.demo import main

if __name__ == '__main__':
    sys.exit(main())
