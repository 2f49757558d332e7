"""Run a stability study: ``python tools/study.py STUDY [options]``.

A thin command line over :mod:`mm_cbam.study` (also ``python -m mm_cbam.study``).
"""
import sys

from mm_cbam.study.cli import run

if __name__ == '__main__':
    sys.exit(run())
