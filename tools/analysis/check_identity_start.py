"""Does a CBAM model loaded from a plain checkpoint start as the plain model?
``python tools/analysis/check_identity_start.py CBAM_CONFIG CHECKPOINT ...``.

A thin command line over :mod:`mm_cbam.analysis.identity_start` (also
``python -m mm_cbam.analysis.identity_start``).
"""
import sys

from mm_cbam.analysis.identity_start import main
from mm_cbam.runner.cli import run_cli

if __name__ == '__main__':
    sys.exit(run_cli(main))
