"""Grad-CAM panels (baseline CAM, CBAM model CAM, CBAM spatial mask) for detectors and
segmentors: ``python tools/analysis/cam.py CONFIG CHECKPOINT IMAGE ... --layers PATTERN``.

A thin command line over :mod:`mm_cbam.analysis.cam` (also ``python -m mm_cbam.analysis.cam``).
"""
import sys

from mm_cbam.analysis.cam import DeployError, main
from mm_cbam.runner.cli import run_cli

if __name__ == '__main__':
    sys.exit(run_cli(main, extra=(DeployError, )))
