"""The main job: CBAM detector and segmentor trained and evaluated on the embedded mini data.

Usage (``make demo`` sets up the environment first), from the checkout::

    python -m mm_cbam.demo [--work-root work_dirs] [--det-config ...] [--seg-config ...]

1. generates the mini COCO / Cityscapes sets in ``data/`` if missing (``mm_cbam.mini_data``);
2. trains the mini CBAM Faster R-CNN with ``mm_cbam.train`` (MMEngine progress and ETA),
   evaluates the last checkpoint with ``mm_cbam.test`` (pycocotools' bbox mAP table);
3. does the same for the mini CBAM DeepLabV3+ (mIoU table);
4. plots the detector's attention stability curves (``mm_cbam.analysis.plot_stability``) and
   draws the spatial attention of a validation image (``mm_cbam.analysis.visualize_attention``);
5. ends with the bbox mAP and mIoU reached.

About 14 minutes on 2 CPU cores once the environment exists (13.5 min measured).
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from mm_cbam.mini_data import ensure_mini_data

DET_CONFIG = 'configs/mini/faster-rcnn_r18-cbam_fpn_12e_mini-coco.py'
SEG_CONFIG = 'configs/mini/deeplabv3plus_r18-d8-cbam_500i_mini-cityscapes.py'


def run(args, what):
    """``python -m <args>``, echoed, timed; stops the demo if it fails."""
    print(f'\n===== {what}\n$ python -m {" ".join(str(a) for a in args)}', flush=True)
    start = time.time()
    proc = subprocess.run([sys.executable, '-m', *map(str, args)])
    if proc.returncode != 0:
        raise SystemExit(f'demo step failed ({what}): exit status {proc.returncode}')
    print(f'===== {what}: done in {time.time() - start:.0f}s', flush=True)


def last_checkpoint(work_dir: Path) -> Path:
    marker = work_dir / 'last_checkpoint'
    if not marker.exists():
        raise SystemExit(f'no checkpoint was written to {work_dir}')
    return Path(marker.read_text().strip())


def latest_metrics(work_dir: Path) -> dict:
    files = sorted(work_dir.glob('*/metrics.json'), key=lambda p: p.stat().st_mtime)
    if not files:
        raise SystemExit(f'mm_cbam.test wrote no metrics.json under {work_dir}')
    return json.loads(files[-1].read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-root', default='work_dirs')
    parser.add_argument('--det-config', default=DET_CONFIG)
    parser.add_argument('--seg-config', default=SEG_CONFIG)
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='passed to both training runs (e.g. train_cfg.max_epochs=1)')
    args = parser.parse_args(argv)
    started = time.time()

    print('===== mini data')
    for name, what in ensure_mini_data().items():
        print(f'data/{name}: {what}')

    work_root = Path(args.work_root)
    results = {}
    for task, config in (('det', args.det_config), ('seg', args.seg_config)):
        work_dir = work_root / Path(config).stem
        opts = ['--cfg-options', *args.cfg_options] if args.cfg_options else []
        run(['mm_cbam.train', config, '--work-dir', work_dir, *opts], f'train {config}')
        ckpt = last_checkpoint(work_dir)
        run(['mm_cbam.test', config, ckpt, '--work-dir', work_dir], f'test {ckpt.name}')
        results[task] = (work_dir, ckpt, latest_metrics(work_dir))

    det_dir, det_ckpt, det_metrics = results['det']
    vis_dir = work_root / 'demo'
    run(['mm_cbam.analysis.plot_stability', det_dir, '--out-dir', vis_dir / 'stability'],
        'stability plots')
    val_image = sorted(Path('data/mini_coco/val').glob('*.png'))[0]
    run(['mm_cbam.analysis.visualize_attention', args.det_config, det_ckpt, val_image,
         '--out-dir', vis_dir / 'attention', '--max-layers', '3'], 'attention overlays')

    seg_metrics = results['seg'][2]
    print(f'\n===== mm_cbam demo finished in {(time.time() - started) / 60:.1f} min')
    print(f'stability plots: {vis_dir / "stability"}   attention overlays: '
          f'{vis_dir / "attention"}')
    print(f"mini COCO  bbox mAP: {det_metrics['coco/bbox_mAP']:.3f}  "
          f"(mAP@0.5 {det_metrics['coco/bbox_mAP_50']:.3f})  [{args.det_config}]")
    print(f"mini Cityscapes mIoU: {seg_metrics['mIoU']:.2f}  (aAcc {seg_metrics['aAcc']:.2f})"
          f"  [{args.seg_config}]")
    return 0


if __name__ == '__main__':
    sys.exit(main())
