"""Convert the official CBAM ImageNet checkpoint for mmdet / mmseg ResNet backbones::

    python tools/model_converters/cbam_official.py RESNET50_CBAM_new_name_wrap.pth \\
        checkpoints/resnet50_cbam_official_mm.pth [--depth 18|34|50|101] [--trust-pickle]

A thin command line over :mod:`mm_cbam.converters.official` (also
``python -m mm_cbam.converters.official``).
"""
import sys

from mm_cbam.converters.official import main

if __name__ == '__main__':
    sys.exit(main())
