"""A diverged run keeps its last good checkpoint and stops by default; a damaged checkpoint is
not resumed (issue: data loss and silent corruption)."""
import struct
import warnings
import zipfile

import pytest
import torch

import mm_cbam  # noqa: F401
from mm_cbam.checkpoint.integrity import checkpoint_problem, resolve_resume

from conftest import DET_CONFIG, run_tool


def _overwrite_inside_a_tensor(path):
    """Overwrite 8 bytes inside the first tensor record of a torch zip checkpoint (no
    truncation: the file keeps its size and structure)."""
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if '/data/' in i.filename and i.file_size >= 8)
    with open(path, 'r+b') as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = struct.unpack('<HH', f.read(4))
        f.seek(info.header_offset + 30 + name_len + extra_len)
        f.write(b'\xff' * 8)


def test_overwritten_bytes_are_found_by_the_crc(tmp_path):
    torch.save({'state_dict': {'w': torch.arange(64.)}}, tmp_path / 'iter_2.pth')
    _overwrite_inside_a_tensor(tmp_path / 'iter_2.pth')
    # torch itself loads it without a word, with NaN weights
    assert torch.isnan(torch.load(tmp_path / 'iter_2.pth')['state_dict']['w']).any()
    problem = checkpoint_problem(str(tmp_path / 'iter_2.pth'))
    assert problem.startswith('damaged: the CRC-32 of archive member')


def test_damaged_last_checkpoint_falls_back_with_a_warning(tmp_path):
    for it in (1, 2):
        torch.save({'state_dict': {'w': torch.full((16, ), float(it))}},
                   tmp_path / f'iter_{it}.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    _overwrite_inside_a_tensor(tmp_path / 'iter_2.pth')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        chosen = resolve_resume(str(tmp_path))
    assert chosen == str(tmp_path / 'iter_1.pth')
    assert any('iter_2.pth (damaged: the CRC-32' in str(w.message) for w in caught)


@pytest.mark.slow
def test_explicit_resume_of_a_damaged_checkpoint_names_the_reason(tmp_path):
    bad = tmp_path / 'epoch_3.pth'
    torch.save({'state_dict': {'w': torch.arange(64.)}}, bad)
    _overwrite_inside_a_tensor(bad)
    proc = run_tool('mm_cbam.train', DET_CONFIG, '--work-dir', tmp_path / 'w', '--resume', bad,
                    check=False)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert f'--resume checkpoint {bad} cannot be loaded: damaged: the CRC-32' in proc.stderr
