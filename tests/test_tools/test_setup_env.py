"""The environment installer's decisions and its handling of broken environments."""
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT

# tools/setup_env.py is a standalone script (it runs before anything is installed)
_spec = importlib.util.spec_from_file_location('setup_env', ROOT / 'tools' / 'setup_env.py')
setup_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(setup_env)

# The lines of mmcv 2.1.0's setup.py that set the C++ standard (verbatim patterns).
MMCV_SETUP_SNIPPET = textwrap.dedent("""\
    extra_compile_args = {
        'nvcc': [cuda_args, '-std=c++14'] if cuda_args else ['-std=c++14'],
        'cxx': ['-std=c++14'],
    }
    if parse_version(torch.__version__) <= parse_version('1.12.1'):
        extra_compile_args['cxx'] = ['-std=c++14']
    else:
        extra_compile_args['cxx'] = ['-std=c++17']
    extra_compile_args['cxx'] = ['/std:c++17']
    extra_compile_args['cxx'] = ['-Wall', '-std=c++17']
    extra_compile_args['nvcc'] += ['-std=c++17']
    """)


@pytest.mark.parametrize('version,expected', [
    ('1.12.1', 'c++14'), ('1.11.0+cu113', 'c++14'), ('1.13.0', 'c++17'), ('2.1.0', 'c++17'),
    ('2.13.0', 'c++17'), ('2.14.0', 'c++20'), ('2.14.1+cu130', 'c++20'), ('2.15.0a0+git', 'c++20'),
])
def test_cxx_standard_follows_torch_version(version, expected):
    assert setup_env.cxx_standard(version) == expected


def test_cxx_standard_headers_take_precedence():
    header = '#if !defined(_MSC_VER) && __cplusplus < 202002L\n#error C++20 or later ...'
    assert setup_env.cxx_standard('2.13.0a0+nv', header) == 'c++20'


def test_installed_torch_headers_agree_with_version_rule():
    import torch
    info = setup_env.probe(Path(sys.executable))
    assert info['torch']['version'] == torch.__version__
    from_headers = setup_env.cxx_standard('0.0.0', info['torch']['header'])
    if from_headers == 'c++20':  # headers demand C++20: the version rule must agree
        assert setup_env.cxx_standard(torch.__version__) == 'c++20'


def test_patch_setup_py_replaces_every_standard_flag():
    patched = setup_env.patch_setup_py(MMCV_SETUP_SNIPPET, 'c++20')
    assert 'c++14' not in patched and 'c++17' not in patched
    assert patched.count("'-std=c++20'") == 7 and patched.count("'/std:c++20'") == 1
    with pytest.raises(setup_env.SetupError, match='no C\\+\\+ standard flag'):
        setup_env.patch_setup_py('setup()', 'c++20')


def test_wheel_cache_key_separates_incompatible_builds():
    key = setup_env.wheel_cache_key('2.1.0', '2.14.1+cu130', 'cpu', 'cp311', 'linux_x86_64')
    assert key == 'mmcv-2.1.0_torch-2.14.1_cpu_cp311-linux_x86_64'
    others = {
        setup_env.wheel_cache_key('2.1.0', '2.13.0', 'cpu', 'cp311', 'linux_x86_64'),
        setup_env.wheel_cache_key('2.1.0', '2.14.1', 'cu130', 'cp311', 'linux_x86_64'),
        setup_env.wheel_cache_key('2.1.0', '2.14.1', 'cpu', 'cp312', 'linux_x86_64'),
        setup_env.wheel_cache_key('2.1.0', '2.14.1', 'cpu', 'cp311', 'linux_aarch64'),
        setup_env.wheel_cache_key('2.0.1', '2.14.1', 'cpu', 'cp311', 'linux_x86_64'),
    }
    assert key not in others and len(others) == 5
    assert '/' not in setup_env.wheel_cache_key('2.1.0', '2.14/1', 'cpu', 'cp311', 'x')


def test_cuda_decision_and_flavour():
    assert setup_env.want_cuda('auto', {}, gpu_visible=False, nvcc=True) is False
    assert setup_env.want_cuda('auto', {}, gpu_visible=True, nvcc=True) is True
    assert setup_env.want_cuda('auto', {}, gpu_visible=True, nvcc=False) is False
    assert setup_env.want_cuda('auto', {'FORCE_CUDA': '1'}, gpu_visible=False, nvcc=False)
    assert setup_env.want_cuda('off', {'FORCE_CUDA': '1'}, gpu_visible=True, nvcc=True) is False
    assert setup_env.cuda_flavour(False, '13.0') == 'cpu'
    assert setup_env.cuda_flavour(True, '13.0') == 'cu130'
    with pytest.raises(setup_env.SetupError, match='CPU-only build'):
        setup_env.cuda_flavour(True, None)


def test_assess_mmcv_messages():
    assert setup_env.assess_mmcv({'mmcv': None}, replace=False) == 'build'
    ok = {'mmcv': {'version': '2.1.0', 'path': '/x', 'ops': True}}
    assert setup_env.assess_mmcv(ok, replace=False) == 'ok'
    wrong = {'mmcv': {'version': '2.2.0', 'path': '/site/mmcv', 'ops': True}}
    with pytest.raises(setup_env.SetupError, match=r'mmcv 2.2.0 is installed at /site/mmcv.*'
                       r'need mmcv>=2.0.0rc4,<2.2.0(.|\n)*--replace-mmcv'):
        setup_env.assess_mmcv(wrong, replace=False)
    assert setup_env.assess_mmcv(wrong, replace=True) == 'replace'
    lite = {'mmcv': {'version': '2.1.0', 'path': '/p', 'ops': False, 'ops_error': 'No module'}}
    with pytest.raises(setup_env.SetupError, match='has no compiled ops'):
        setup_env.assess_mmcv(lite, replace=False)


def _fake_mmcv(tmp_path: Path, version: str, with_ops: bool) -> Path:
    pkg = tmp_path / 'mmcv'
    pkg.mkdir()
    (pkg / '__init__.py').write_text(f"__version__ = '{version}'\n")
    if with_ops:
        (pkg / '_ext.py').write_text('')
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize('version,with_ops,expected', [
    ('2.2.0', True, 'mmcv 2.2.0 is installed at'),
    ('2.1.0', False, 'has no compiled ops'),
])
def test_installer_reports_a_wrong_environment_clearly(tmp_path, version, with_ops, expected):
    fake = _fake_mmcv(tmp_path, version, with_ops)
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'setup_env.py'), '--use-current-env', '--check'],
        env={'PYTHONPATH': str(fake), 'PATH': '/usr/bin:/bin', 'HOME': str(tmp_path)},
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert expected in proc.stderr and 'Traceback' not in proc.stderr
    assert '--replace-mmcv' in proc.stderr


@pytest.mark.slow
def test_installer_is_idempotent_in_the_current_environment():
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'setup_env.py'), '--use-current-env'],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert 'mmcv 2.1.0 with compiled ops: present' in out
    assert 'building mmcv' not in out and 'pip install' not in out
    assert 'nms + RoIAlign ran, mmdet/mmseg import, CBAM registered: OK' in out


def test_installer_installs_one_codebase_or_both():
    assert setup_env.project_extras() == 'all,tests,pretrain,deploy'
    assert setup_env.project_extras(extras=False) == 'all,tests'
    assert setup_env.project_extras('mmdet', extras=False) == 'det,tests'
    assert setup_env.project_extras('mmseg', extras=False) == 'seg,tests'
    assert setup_env.codebases() == ('mmdet', 'mmseg') and setup_env.codebases('mmseg') == (
        'mmseg', )
    import configparser
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / 'setup.cfg')

    def requirements(text):
        return {line.strip() for line in text.splitlines()
                if line.strip() and not line.strip().startswith('#')}

    extras = {k: requirements(v) for k, v in cfg['options.extras_require'].items()}
    core = requirements(cfg['options']['install_requires'])
    assert 'mmengine==0.10.7' in core and not any(r.startswith(('mmdet', 'mmseg', 'mmcv'))
                                                  for r in core)
    assert 'mmdet==3.3.0' in extras['det'] and not any('mmseg' in r for r in extras['det'])
    assert 'mmsegmentation==1.2.2' in extras['seg']
    assert not any('mmdet' in r for r in extras['seg'])
    assert extras['det'] | extras['seg'] == extras['all']


def _wheel(folder: Path) -> Path:
    """A minimal valid mmcv 2.1.0 wheel for this interpreter (metadata only)."""
    import sysconfig
    import zipfile
    tag = f'cp{sys.version_info[0]}{sys.version_info[1]}'
    platform = sysconfig.get_platform().replace('-', '_').replace('.', '_')
    path = folder / f'mmcv-2.1.0-{tag}-{tag}-{platform}.whl'
    info = 'mmcv-2.1.0.dist-info'
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr('mmcv/__init__.py', "__version__ = '2.1.0'\n")
        zf.writestr(f'{info}/METADATA', 'Metadata-Version: 2.1\nName: mmcv\nVersion: 2.1.0\n')
        zf.writestr(f'{info}/WHEEL', f'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: '
                    f'false\nTag: {tag}-{tag}-{platform}\n')
        zf.writestr(f'{info}/RECORD', '')
    return path


def test_a_prebuilt_wheel_is_found_in_a_local_index(tmp_path):
    """--mmcv-find-links with a local folder of wheels: pip (asked with --dry-run, nothing is
    installed) picks the wheel that fits this interpreter, and nothing from an empty index."""
    index = tmp_path / 'index'
    index.mkdir()
    wheel = _wheel(index)
    found = setup_env.find_mmcv_wheel(sys.executable, str(index))
    assert found is not None and found.startswith('file://') and found.endswith(wheel.name)
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert setup_env.find_mmcv_wheel(sys.executable, str(empty)) is None
