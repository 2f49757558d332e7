"""Generate the embedded mini datasets (deterministic: same seed, same files).

Usage::

    python -m mm_cbam.mini_data [--out data] [--seed 0] [--force]
        [--coco-train 320 --coco-val 80 --city-train 160 --city-val 40]

Writes ``<out>/mini_coco`` (COCO detection / instances format) and ``<out>/mini_cityscapes``
(Cityscapes format with ``*_gtFine_labelTrainIds.png``), the data roots of the
``configs/mini/`` configs (``data/`` relative to where you train, as mmdet's configs expect
``data/coco``). Existing sets are kept unless ``--force``.
"""
import argparse
import shutil
import sys
import time
from pathlib import Path

from .generators import generate_mini_cityscapes, generate_mini_coco


def ensure_mini_data(out='data', seed: int = 0, force: bool = False, coco=(320, 80),
                     city=(160, 40)) -> dict:
    """Generate whichever mini set is missing (or all with ``force``); returns what it did."""
    out = Path(out)
    done = {}
    for name, marker, generate, sizes in (
            ('mini_coco', 'annotations/instances_val.json', generate_mini_coco, coco),
            ('mini_cityscapes', 'gtFine/val', generate_mini_cityscapes, city)):
        target = out / name
        if (target / marker).exists() and not force:
            done[name] = 'present'
            continue
        if target.exists():
            shutil.rmtree(target)
        start = time.time()
        counts = generate(target, sizes[0], sizes[1], seed=seed)
        done[name] = f'generated {counts} in {time.time() - start:.1f}s'
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='data', help='parent folder of the sets (default: data)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='regenerate existing sets')
    parser.add_argument('--coco-train', type=int, default=320)
    parser.add_argument('--coco-val', type=int, default=80)
    parser.add_argument('--city-train', type=int, default=160)
    parser.add_argument('--city-val', type=int, default=40)
    args = parser.parse_args(argv)
    result = ensure_mini_data(args.out, args.seed, args.force, (args.coco_train, args.coco_val),
                              (args.city_train, args.city_val))
    for name, what in result.items():
        print(f'{Path(args.out) / name}: {what}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
