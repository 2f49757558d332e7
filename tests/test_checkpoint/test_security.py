"""Crafted checkpoints run no code with ``mm_cbam`` imported, through torch.load, mmengine's
loaders and every tool that loads a checkpoint; each is refused with one line naming the file
and what was refused. Legitimate Runner checkpoints keep loading."""
import io
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.logging import HistoryBuffer

import mm_cbam  # noqa: F401  (installs the allow-list and the loader patches)
from mm_cbam.checkpoint import (CheckpointLoadError, UnreadableCheckpointError,
                                UnsafeCheckpointError, safe_load)
from mm_cbam.checkpoint.safe_load import LoadedHistoryBuffer

from crafted_checkpoints import LOCATIONS, payloads, save_crafted

# what the one-line message names for each payload
REFUSED = {
    'reduce_os_system': 'global posix.system is not allow-listed',
    'reduce_eval': 'global builtins.eval is not allow-listed',
    'gadget': 'refused HistoryBuffer state: statistics_methods',
    'gadget_without_registry_widening': "refused getattr(HistoryBuffer, '__",
    'getattr_dunder_of_history_buffer': "refused getattr(HistoryBuffer, '__init__')",
    'getattr_of_another_object': "refused getattr(ndarray, 'tofile')",
    'getattr_statistic_then_called': "'StatisticReference' object is not callable",
    'history_state_widens_registry': 'refused HistoryBuffer state: statistics_methods',
    'history_state_extra_attribute': 'refused HistoryBuffer state with keys',
    'history_state_object_array': '_log_history must be a 1-D numeric numpy array',
    'history_state_not_a_dict': 'refused HistoryBuffer state with keys list',
    'numpy_reconstruct_other_class': 'sub-type of ndarray',
    'numpy_scalar_of_eval': 'global builtins.eval is not allow-listed',
    'numpy_dtype_class_of_eval': 'global builtins.eval is not allow-listed',
    'numpy_array_state_with_eval': 'global builtins.eval is not allow-listed',
}
NAMES = sorted(REFUSED)


def test_every_payload_has_an_expected_refusal(tmp_path):
    assert sorted(payloads(tmp_path / 'm')) == NAMES


@pytest.fixture
def registry():
    """HistoryBuffer's class-level statistics registry must be the same after every load."""
    HistoryBuffer()  # registers the defaults, as any run does
    before = dict(HistoryBuffer._statistics_methods)
    yield
    assert HistoryBuffer._statistics_methods == before


@pytest.mark.parametrize('where', LOCATIONS)
@pytest.mark.parametrize('name', NAMES)
def test_torch_load_with_mm_cbam_imported_runs_no_code(tmp_path, name, where, registry):
    marker = tmp_path / 'marker'
    path = save_crafted(tmp_path / 'evil.pth', payloads(marker)[name], where)
    with pytest.raises(Exception):  # torch's own error, whichever it is
        torch.load(path, weights_only=True)
    with pytest.raises(Exception):
        torch.load(path)  # torch >= 2.6 defaults to weights_only=True
    assert not marker.exists()


@pytest.mark.parametrize('where', LOCATIONS)
@pytest.mark.parametrize('name', NAMES)
def test_safe_load_refuses_with_one_line(tmp_path, name, where, registry):
    marker = tmp_path / 'marker'
    path = save_crafted(tmp_path / 'evil.pth', payloads(marker)[name], where)
    with pytest.raises(CheckpointLoadError) as err:
        safe_load(path)
    message = str(err.value)
    assert '\n' not in message and message.startswith(f'{path}: ')
    assert REFUSED[name] in message, message
    assert not marker.exists()


@pytest.mark.parametrize('where', LOCATIONS)
@pytest.mark.parametrize('name', NAMES)
def test_mmengine_loaders_refuse(tmp_path, name, where, registry):
    """load_from / resume / init_cfg all go through mmengine's CheckpointLoader."""
    from mmengine.runner import CheckpointLoader
    marker = tmp_path / 'marker'
    path = save_crafted(tmp_path / 'evil.pth', payloads(marker)[name], where)
    with pytest.raises(CheckpointLoadError, match=REFUSED[name].replace('(', r'\(').replace(
            ')', r'\)')):
        CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert not marker.exists()


def test_mmengine_passes_weights_only_whatever_torch_defaults(tmp_path, monkeypatch):
    """On torch < 2.6 the default is weights_only=False: mm_cbam passes True explicitly, for
    local files and for URLs (torch.hub's loader defaults to False on every torch)."""
    from mmengine.runner import CheckpointLoader
    seen = []
    real_load = torch.load

    def recording_load(*args, **kwargs):
        seen.append(kwargs.get('weights_only'))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', recording_load)
    torch.save({'w': torch.ones(1)}, tmp_path / 'ok.pth')
    CheckpointLoader.load_checkpoint(str(tmp_path / 'ok.pth'), map_location='cpu')
    from torch import hub
    urls = []
    monkeypatch.setattr(hub, 'load_state_dict_from_url',
                        lambda url, **kw: urls.append((url, kw.get('weights_only'))) or {})
    CheckpointLoader.load_checkpoint('https://example.org/w.pth', map_location='cpu')
    assert seen == [True] and urls == [('https://example.org/w.pth', True)]


def test_text_file_is_unreadable_not_unsafe(tmp_path):
    path = tmp_path / 'notes.pth'
    path.write_text('these are not weights\n')
    with pytest.raises(UnreadableCheckpointError, match='not a readable torch checkpoint'):
        safe_load(str(path))


@pytest.mark.slow
def test_runner_history_buffers_round_trip_as_mmengine_classes(tmp_path):
    """A loaded message hub is usable (statistics work) and pickles back as mmengine's own
    HistoryBuffer: files written after a resume name no mm_cbam class."""
    hub = HistoryBuffer()
    for v in (1.0, 2.0, 4.0):
        hub.update(v)
    torch.save({'message_hub': {'log_scalars': {'loss': hub}}}, tmp_path / 'a.pth')
    loaded = safe_load(str(tmp_path / 'a.pth'))['message_hub']['log_scalars']['loss']
    assert isinstance(loaded, LoadedHistoryBuffer) and isinstance(loaded, HistoryBuffer)
    assert loaded.mean() == pytest.approx(7 / 3) and loaded.current() == 4.0
    assert loaded.statistics('max') == 4.0
    buffer = io.BytesIO()
    torch.save({'hub': loaded}, buffer)
    assert b'mm_cbam' not in buffer.getvalue() and b'HistoryBuffer' in buffer.getvalue()
    buffer.seek(0)
    again = safe_load(buffer)['hub']
    assert again.mean() == pytest.approx(7 / 3)
    # without mm_cbam the file holds mmengine's own class
    code = ('import io, sys, torch; o = torch.load(io.BytesIO(sys.stdin.buffer.read()), '
            'weights_only=False)["hub"]; print(type(o).__module__, type(o).__name__)')
    proc = subprocess.run([sys.executable, '-c', code], input=buffer.getvalue(),
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert proc.stdout.decode().split() == ['mmengine.logging.history_buffer', 'HistoryBuffer']


def test_allow_list_is_the_documented_fixed_set():
    from mm_cbam.checkpoint.safe_load import STATISTICS, allowed_globals
    named = {name for g in allowed_globals() if isinstance(g, tuple) for name in [g[1]]}
    assert named == {'mmengine.logging.history_buffer.HistoryBuffer', 'builtins.getattr'}
    plain = [g for g in allowed_globals() if not isinstance(g, tuple)]
    assert all(getattr(g, '__module__', '').startswith('numpy') for g in plain), plain
    assert STATISTICS == frozenset({'min', 'max', 'current', 'mean'})
    assert getattr not in [g[0] for g in allowed_globals() if isinstance(g, tuple)]


def test_pickled_refusal_is_an_unpickling_error(tmp_path):
    """Callers that catch pickle.UnpicklingError (as torch users do) still catch it."""
    assert issubclass(UnsafeCheckpointError, pickle.UnpicklingError)


# ----------------------------------------------------------------------------- the tools


@pytest.fixture(scope='module')
def piggy_backed(det_run, tmp_path_factory):
    """A real mini-detector Runner checkpoint with the gadget in its message hub."""
    from crafted_checkpoints import gadget
    folder = tmp_path_factory.mktemp('piggy')
    marker = folder / 'marker'
    real = safe_load(str(det_run / 'epoch_3.pth'))
    path = save_crafted(folder / 'epoch_3.pth', gadget(marker), 'message_hub', base=real)
    return folder, path, marker


def _assert_refused(proc, path, marker):
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert lines and lines[-1].startswith(f'ERROR: {path}: refused to load ('), proc.stderr[-3000:]
    assert 'refused HistoryBuffer state' in lines[-1]
    assert not marker.exists()


@pytest.mark.slow
@pytest.mark.parametrize('how', ['load_from', 'resume_path', 'resume_auto'])
def test_train_refuses(piggy_backed, tmp_path, how):
    from conftest import DET_CONFIG, SMALL_DET, run_tool
    folder, path, marker = piggy_backed
    if how == 'load_from':
        args = ['--work-dir', tmp_path, '--cfg-options', *SMALL_DET, f'load_from={path}']
    elif how == 'resume_path':
        args = ['--work-dir', tmp_path, '--resume', path, '--cfg-options', *SMALL_DET]
    else:
        (folder / 'last_checkpoint').write_text(path)
        args = ['--work-dir', folder, '--resume', '--cfg-options', *SMALL_DET]
    _assert_refused(run_tool('mm_cbam.train', DET_CONFIG, *args, check=False), path, marker)


@pytest.mark.slow
@pytest.mark.parametrize('tool', ['test', 'converter', 'identity_start'])
def test_other_tools_refuse(piggy_backed, tmp_path, tool):
    from conftest import DET_CONFIG, run_tool
    _, path, marker = piggy_backed
    if tool == 'test':
        proc = run_tool('mm_cbam.test', DET_CONFIG, path, '--work-dir', tmp_path, check=False)
    elif tool == 'converter':
        proc = run_tool('mm_cbam.converters.official', path, tmp_path / 'out.pth',
                        check=False)
        assert not (tmp_path / 'out.pth').exists()
    else:
        proc = run_tool('tools/analysis/check_identity_start.py', DET_CONFIG, path,
                        check=False)
    _assert_refused(proc, path, marker)
