"""The analysis tools on real runs: stability plots and attention overlays."""
from pathlib import Path

import pytest

from conftest import ROOT, layer_name as _layer, run_tool


@pytest.mark.slow
def test_plot_stability_compares_two_real_runs(variants_run, det_run, tmp_path):
    _, work = variants_run
    out = tmp_path / 'plots'
    run_tool('mm_cbam.analysis.plot_stability', work, det_run, '--names', 'variants', 'classic',
             '--out-dir', out)
    for name in ('loss', 'alpha', 'ca_T', 'sa_T', 'fusion_avg', 'router_w0', 'router_entropy',
                 'sa_sat_hi', 'gnorm'):
        png = out / f'{name}.png'
        assert png.exists() and png.stat().st_size > 5000, name
    summary = (out / 'summary.md').read_text()
    assert '## variants' in summary and '## classic' in summary
    assert '| variants |' in summary and 'coco/bbox_mAP' in summary
    assert f'| {_layer("residual")} |' in summary  # alpha trajectory row
    assert 'collapsed layers' in summary and 'loss spike' in summary


@pytest.mark.slow
def test_visualize_attention_tool_writes_overlays(variants_run, tmp_path):
    config, work = variants_run
    ckpt = Path((work / 'last_checkpoint').read_text().strip())
    image = sorted((ROOT / 'data' / 'mini_coco' / 'val').glob('*.png'))[0]
    proc = run_tool('mm_cbam.analysis.visualize_attention', config, ckpt, image, '--layers',
                    'backbone.layer1.**', 'backbone.layer3.1.*', '--out-dir', tmp_path,
                    '--tensorboard')
    written = [Path(p) for p in proc.stdout.split() if p.endswith('.png')]
    assert [p.name for p in written] == [f'{image.stem}_{_layer("dynamic", 0)}.png',
                                         f'{image.stem}_{_layer("dynamic", 1)}.png',
                                         f'{image.stem}_{_layer("residual", 1)}.png']
    import cv2
    drawn = cv2.imread(str(written[0]))
    assert drawn is not None and drawn.shape[0] > 200 and drawn.std() > 10
    assert list((tmp_path / 'tensorboard').glob('events.out.tfevents.*'))
