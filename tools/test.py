"""Test a checkpoint: ``python tools/test.py CONFIG CHECKPOINT ...`` (mmdet's flags).

A thin command line over :mod:`mm_cbam.test` (also ``python -m mm_cbam.test``).
"""
import sys

from mm_cbam.runner.cli import run_cli
from mm_cbam.test import main

if __name__ == '__main__':
    sys.exit(run_cli(main))
