"""ONNX / TorchScript export of the mini segmentor (end to end) and the mini detector's feature
extractor, checked against the PyTorch model run through its own data preprocessor, for every
CBAM variant; the detector parts that do not export are refused with the reason."""
import numpy as np
import pytest
import torch

import mm_cbam  # noqa: F401
from mm_cbam.deployment.export import example_image, export, run_onnx
from mm_cbam.deployment.loading import DeployError, build_eval_model
from mm_cbam.runner.config import load_config

from conftest import DET_CONFIG, SEG_CONFIG, last_line, run_tool
from deploy_helpers import VARIANTS, randomize_, save_checkpoint, variant_config

pytest.importorskip('onnxruntime')
pytestmark = [pytest.mark.filterwarnings('ignore::torch.jit.TracerWarning'),
              pytest.mark.filterwarnings('ignore::DeprecationWarning'),
              pytest.mark.filterwarnings('ignore::FutureWarning')]


def _checkpoint(config, tmp_path, seed=0):
    model = randomize_(build_eval_model(load_config(str(config))), seed)
    return model, str(save_checkpoint(model, tmp_path / 'weights.pth'))


def _reference(model, task, image):
    """The model's own path: data preprocessor (inference), then logits / features."""
    from mm_cbam.testing import synthetic_batch
    batch = synthetic_batch(model, task, batch_size=1, size=tuple(image.shape[-2:]))
    batch['inputs'] = [image[0].to(torch.uint8)]
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        if task == 'seg':
            metas = [s.metainfo for s in data['data_samples']]
            return [model.encode_decode(data['inputs'], metas)]
        return list(model.extract_feat(data['inputs']))


def _max_rel(outputs, reference):
    return max(float(np.abs(o - r.numpy()).max() / np.abs(r.numpy()).max())
               for o, r in zip(outputs, reference))


@pytest.mark.slow
@pytest.mark.parametrize('task,config,part', [('seg', SEG_CONFIG, 'full'),
                                              ('det', DET_CONFIG, 'features')])
def test_mini_models_export_and_onnxruntime_reproduces_them(tmp_path, task, config, part):
    model, ckpt = _checkpoint(config, tmp_path)
    out = tmp_path / 'model.onnx'
    result = export(load_config(str(config)), ckpt, str(out), part=part, verify=True)
    assert max(r['max_rel'] for r in result['rows']) < 1e-4
    # independently of the export wrapper: the model through its data preprocessor
    image = example_image(result['shape'], seed=3)
    reference = _reference(model, task, image)
    got = run_onnx(str(out), image)
    assert [o.shape for o in got] == [tuple(r.shape) for r in reference]
    assert _max_rel(got, reference) < 1e-4
    if task == 'seg':
        assert result['names'] == ['seg_logits'] and got[0].shape[-2:] == result['shape']
    else:
        assert result['names'] == [f'feat{i}' for i in range(5)]


@pytest.mark.slow
@pytest.mark.parametrize('variant', sorted(VARIANTS))
def test_every_variant_exports_and_matches(tmp_path, variant):
    config = variant_config(tmp_path, 'seg', VARIANTS[variant])
    _, ckpt = _checkpoint(config, tmp_path, seed=1)
    result = export(load_config(str(config)), ckpt, str(tmp_path / 'v.onnx'), shape=(64, 128),
                    verify=True)
    assert result['rows'][0]['max_rel'] < 1e-4, result['rows']


@pytest.mark.slow
def test_detector_dense_part_and_torchscript(tmp_path):
    cfg = load_config(str(DET_CONFIG))
    dense = export(cfg, None, str(tmp_path / 'dense.onnx'), shape=(96, 128), part='dense',
                   verify=True)
    assert dense['names'][:5] == [f'feat{i}' for i in range(5)]
    assert dense['names'][5:] == [f'cls_score{i}' for i in range(5)] + [
        f'bbox_pred{i}' for i in range(5)]
    assert max(r['max_rel'] for r in dense['rows']) < 1e-4
    ts = export(cfg, None, str(tmp_path / 'features.pt'), shape=(96, 128), fmt='torchscript',
                verify=True)
    assert max(r['max_rel'] for r in ts['rows']) < 1e-4


@pytest.mark.parametrize('kwargs,message', [
    (dict(part='full'), 'post-processing does not export'),
    (dict(part='decoder'), "allowed: features, backbone, dense, full"),
    (dict(shape=(100, 128)), 'multiple of its pad_size_divisor=32'),
    (dict(fmt='tflite'), 'allowed values are onnx, torchscript'),
])
def test_refusals_name_the_reason(tmp_path, kwargs, message):
    with pytest.raises(DeployError, match=message):
        export(load_config(str(DET_CONFIG)), None, str(tmp_path / 'x.onnx'), **kwargs)


@pytest.mark.slow
def test_export_tool_verifies_and_names_the_missing_extra(tmp_path):
    out = tmp_path / 'seg.onnx'
    proc = run_tool('tools/deployment/export_onnx.py', SEG_CONFIG, '--out', out, '--verify',
                    '--shape', 64, 128)
    assert out.stat().st_size > 100_000
    assert "exported the segmentor's full part (onnx, opset 17" in proc.stdout
    assert 'max rel diff' in proc.stdout and proc.stdout.rstrip().endswith('OK')
    blocked = run_tool('-c', "import sys; sys.modules['onnx'] = None; "
                       "from mm_cbam.deployment.export import main; "
                       "from mm_cbam.runner.cli import run_cli; "
                       "from mm_cbam.deployment.loading import DeployError; "
                       f"sys.exit(run_cli(main, ['{SEG_CONFIG}', '--out', '{out}'], "
                       "extra=(DeployError,)))", check=False)
    assert blocked.returncode == 2
    assert last_line(blocked).startswith('ERROR: ONNX export needs onnx (the \'deploy\' extra)')
    assert "pip install -e '.[deploy]'" in last_line(blocked)


def test_exporter_failures_are_one_line_with_a_hint():
    from mm_cbam.deployment.export import _export_failure
    exc = torch.onnx.OnnxExporterError(
        'Unsupported: ONNX export of operator adaptive_avg_pool2d, output size that are not '
        'factor of input size. Please feel free to request support or submit a pull request '
        'on PyTorch GitHub: https://github.com/pytorch/pytorch/issues  [Caused by ...]\n'
        'graph(...)')
    text = _export_failure(exc)
    assert '\n' not in text and 'GitHub' not in text
    assert text.startswith('Unsupported: ONNX export of operator adaptive_avg_pool2d')
    assert 'e.g. --shape 480 960' in text
