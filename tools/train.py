"""Train a detector or segmentor: ``python tools/train.py CONFIG ...`` (mmdet's flags).

A thin command line over :mod:`mm_cbam.train` (also ``python -m mm_cbam.train``).
"""
import sys

from mm_cbam.runner.cli import run_cli
from mm_cbam.train import main

if __name__ == '__main__':
    sys.exit(run_cli(main))
