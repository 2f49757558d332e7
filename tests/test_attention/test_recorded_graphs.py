"""CBAM in recorded graphs: TorchScript traces, ONNX (checked with onnxruntime) and jit-traced
FLOP counting see the plain composition, for every variant, in grad and no-grad mode."""
import io

import numpy as np
import pytest
import torch
from mmengine.registry import MODELS

import mm_cbam  # noqa: F401
from mm_cbam.attention import cbam_composite

from deploy_helpers import MODULE_VARIANTS, randomize_

pytest.importorskip('onnxruntime')
# torch deprecates jit.trace and the TorchScript-based ONNX exporter; both still have to work
pytestmark = [pytest.mark.filterwarnings('ignore::torch.jit.TracerWarning'),
              pytest.mark.filterwarnings('ignore::FutureWarning'),
              pytest.mark.filterwarnings('ignore::DeprecationWarning')]


def _module(name: str, channels: int = 32):
    module = randomize_(MODELS.build(dict(MODULE_VARIANTS[name], in_channels=channels)))
    return module.eval()


@pytest.fixture
def x():
    return torch.randn(2, 32, 12, 20, generator=torch.Generator().manual_seed(1)) * 2


@pytest.mark.parametrize('name', sorted(MODULE_VARIANTS))
def test_torchscript_trace_saves_loads_and_matches(name, x, tmp_path):
    module = _module(name)
    traced = torch.jit.trace(module, (x, ), check_trace=False)
    traced.save(str(tmp_path / 'cbam.pt'))
    loaded = torch.jit.load(str(tmp_path / 'cbam.pt'))
    with torch.no_grad():
        expected = module(x)
        assert torch.allclose(loaded(x), expected, rtol=1e-5, atol=1e-6)
        x2 = torch.randn_like(x)  # a trace, not a constant: another input gives its own output
        assert torch.allclose(loaded(x2), module(x2), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('name', sorted(MODULE_VARIANTS))
def test_onnx_export_matches_onnxruntime(name, x):
    import onnx
    import onnxruntime as ort
    module = _module(name)
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, (x, ), buffer, dynamo=False, opset_version=17,
                          input_names=['x'], output_names=['y'])
    model = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(model)
    ops = {(n.domain, n.op_type) for n in model.graph.node}
    assert all(domain in ('', 'ai.onnx') for domain, _ in ops), ops  # standard ops only
    assert not any('Python' in op or 'ATen' in op for _, op in ops), ops
    session = ort.InferenceSession(buffer.getvalue(), providers=['CPUExecutionProvider'])
    for inp in (x, torch.randn_like(x) * 3):
        got = session.run(None, {'x': inp.numpy()})[0]
        with torch.no_grad():
            ref = module(inp).numpy()
        assert np.abs(got - ref).max() / np.abs(ref).max() < 1e-5


@pytest.mark.parametrize('grad', [True, False])
def test_flop_counter_traces_the_composition(grad, x):
    """The fused autograd function cannot be recorded by torch.jit's tracer (it calls the channel
    and spatial modules inside forward); the attention must count as its composition whether
    grad is on (fused function) or off (fused inference path)."""
    from mm_cbam.analysis.get_flops import analyze
    module = _module('dynamic')

    class Composite(torch.nn.Module):

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, inp):
            return cbam_composite(inp, self.m.ca, self.m.sa, self.m.alpha)[0]

    with torch.set_grad_enabled(grad):
        counted = analyze(module, (x, ))
    reference = analyze(Composite(module), (x, ))
    assert counted.total() == reference.total() > 0
    assert counted.by_operator() == reference.by_operator()
