#!/usr/bin/env python3
"""Set up (idempotently) the environment mm_cbam runs in: torch, mmcv with compiled ops, mmengine,
mmdet, mmsegmentation, pycocotools, TensorBoard and mm_cbam itself.

Usage::

    python3 tools/setup_env.py                 # creates/updates .venv in the checkout
    python3 tools/setup_env.py --use-current-env   # installs into the running interpreter's env
    python3 tools/setup_env.py --check         # only inspects and verifies, installs nothing
    python3 tools/setup_env.py --only mmdet    # detection only (or --only mmseg)
    python3 tools/setup_env.py --mmcv-find-links URL   # a prebuilt mmcv wheel index, e.g.
        # https://download.openmmlab.com/mmcv/dist/cu121/torch2.1/index.html
    python3 tools/setup_env.py --no-extras     # without mmpretrain (ConvNeXt) and onnx/grad-cam

Steps (each is skipped when already satisfied, so a second run takes seconds):

1. virtual environment ``.venv`` (or ``--venv PATH`` / ``--use-current-env``);
2. build tooling: ``setuptools>=77.0.3,<81`` (torch 2.14 needs >=77.0.3; mmcv's setup.py and
   mmengine's ``mmdet::``/``mmseg::`` config bases need ``pkg_resources``, removed in 81), wheel,
   ninja (parallel compilation);
3. torch + torchvision: kept if importable, else ``$MM_CBAM_TORCH`` (default
   ``torch==2.14.1 torchvision==0.29.1``);
4. mmcv 2.1.0 with compiled ops. With ``--mmcv-find-links URL_OR_FOLDER`` (OpenMMLab's
   per-CUDA / per-torch index that ``mim install mmcv`` uses, or a local folder of wheels) a
   matching wheel from there is installed first and kept if its ops load with the installed
   torch. Otherwise: mmcv publishes no wheels for current torch, so the sdist is
   built with ``--no-build-isolation`` after replacing the C++ standard its setup.py hard-codes
   by the one the installed torch needs (:func:`cxx_standard`). CUDA ops are built with
   ``FORCE_CUDA=1`` or when a GPU and nvcc are present. The wheel is cached under
   ``$MM_CBAM_CACHE_DIR`` (default ``~/.cache/mm_cbam``), keyed by :func:`wheel_cache_key`, so the
   build (13-36 minutes on 2 CPU cores, depending on the machine) happens once per machine and
   torch/CUDA combination;
5. mm_cbam in editable mode with its pinned dependencies (setup.cfg): extras ``all`` (mmdet and
   mmsegmentation) or, with ``--only mmdet|mmseg``, one codebase, as OpenMMLab users install;
   plus ``pretrain`` (mmpretrain: the ConvNeXt backbones) and ``deploy`` (onnx, onnxruntime,
   grad-cam: export and CAM) unless ``--no-extras``;
6. verification: ``mmcv.ops.nms`` and ``RoIAlign`` on tiny tensors, mmdet / mmseg / mm_cbam
   imports, then a one-screen summary.

This file uses only the standard library: it runs before anything is installed.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MMCV_VERSION = '2.1.0'
MMCV_REQUIREMENT = '>=2.0.0rc4,<2.2.0'  # what mmdet 3.3.0 and mmsegmentation 1.2.2 accept
DEFAULT_TORCH = 'torch==2.14.1 torchvision==0.29.1'
BUILD_TOOLS = ['setuptools>=77.0.3,<81', 'wheel', 'ninja', 'psutil']


class SetupError(RuntimeError):
    """A step failed; the message says what failed and what to do."""


# --------------------------------------------------------------------------- pure decisions


def parse_version(text: str):
    """``'2.14.1+cu130'`` -> ``(2, 14, 1)``; pre-release tags are ignored."""
    nums = re.findall(r'\d+', text.split('+')[0])[:3]
    return tuple(int(n) for n in nums) + (0, ) * (3 - len(nums))


def cxx_standard(torch_version: str, header_text: str = '') -> str:
    """C++ standard for extensions compiled against this torch.

    torch <= 1.12.1 builds with C++14, later releases with C++17, and torch >= 2.14 requires C++20
    (its ATen / torch headers ``#error`` below ``__cplusplus`` 202002L, PyTorch PR 178150).
    ``header_text`` (contents of ``torch/all.h`` or ``ATen/ATen.h`` when available) takes
    precedence, so a development build that already requires C++20 is handled too.
    """
    if re.search(r'__cplusplus\s*<\s*202002L', header_text):
        return 'c++20'
    version = parse_version(torch_version)
    if version <= (1, 12, 1):
        return 'c++14'
    if version < (2, 14, 0):
        return 'c++17'
    return 'c++20'


def patch_setup_py(text: str, std: str) -> str:
    """Replace every C++ standard flag in mmcv's setup.py by ``std`` (e.g. ``'c++20'``)."""
    patched, count = re.subn(r"(['\"])([-/])std[=:]c\+\+\d\d\1", lambda m: (
        f"{m.group(1)}{m.group(2)}std{'=' if m.group(2) == '-' else ':'}{std}{m.group(1)}"), text)
    if count == 0:
        raise SetupError('mmcv setup.py has no C++ standard flag to patch; the sdist layout '
                         'changed. Build mmcv by hand (docs/setup.md) or pin mmcv 2.1.0.')
    return patched


def cuda_flavour(build_cuda: bool, torch_cuda_version) -> str:
    """``'cpu'`` or ``'cu130'``-style tag of the ops a wheel contains."""
    if not build_cuda:
        return 'cpu'
    if not torch_cuda_version:
        raise SetupError('CUDA ops were requested (FORCE_CUDA=1 or --cuda on) but the installed '
                         'torch is a CPU-only build; install a CUDA build of torch first.')
    return 'cu' + str(torch_cuda_version).replace('.', '')


def wheel_cache_key(mmcv_version: str, torch_version: str, flavour: str, python_tag: str,
                    platform: str) -> str:
    """Directory name a built mmcv wheel is cached under.

    A wheel with compiled ops is only valid for the exact torch it was built against (C++ ABI),
    its ops flavour (CPU or CUDA version), the Python ABI and the platform.
    """
    torch_public = torch_version.split('+')[0]
    raw = f'mmcv-{mmcv_version}_torch-{torch_public}_{flavour}_{python_tag}-{platform}'
    return re.sub(r'[^A-Za-z0-9._-]', '_', raw)


def want_cuda(mode: str, env: dict, gpu_visible: bool, nvcc: bool) -> bool:
    """Whether to build CUDA ops: ``--cuda on|off``, else FORCE_CUDA, else GPU and nvcc found."""
    if mode == 'on':
        return True
    if mode == 'off':
        return False
    if env.get('FORCE_CUDA', '0') == '1':
        return True
    return gpu_visible and nvcc


def assess_mmcv(probe: dict, replace: bool) -> str:
    """Decide what to do about an existing mmcv: ``'build'``, ``'ok'`` or ``'replace'``.

    Raises SetupError with a specific message for an incompatible installation unless ``replace``.
    """
    info = probe.get('mmcv')
    if not info:
        return 'build'
    fix = ('Fix: run `python -m pip uninstall -y mmcv mmcv-lite` in that environment and rerun '
           'this script, or rerun it with --replace-mmcv.')
    problem = None
    if info.get('error'):
        problem = f"mmcv is installed at {info.get('path')} but fails to import: {info['error']}"
    elif info['version'] != MMCV_VERSION:
        problem = (f"mmcv {info['version']} is installed at {info['path']}, but mmdet 3.3.0 and "
                   f'mmsegmentation 1.2.2 need mmcv{MMCV_REQUIREMENT} and mm_cbam is built and '
                   f'tested with mmcv {MMCV_VERSION} with compiled ops.')
    elif not info.get('ops'):
        problem = (f"mmcv {info['version']} at {info['path']} has no compiled ops "
                   f"(import mmcv._ext failed: {info.get('ops_error')}); it is mmcv-lite or was "
                   'built with MMCV_WITH_OPS=0, and mmdet needs nms / RoIAlign from the ops.')
    if problem is None:
        return 'ok'
    if replace:
        return 'replace'
    raise SetupError(f'{problem}\n{fix}')


# --------------------------------------------------------------------------- environment


def log(msg: str):
    print(f'[setup_env] {msg}', flush=True)


def run(cmd, env=None, cwd=None, what=None, quiet=False, echo=True):
    """Run a command; on failure raise SetupError naming the step and the command."""
    shown = ' '.join(str(c) if len(str(c)) < 200 else '<script>' for c in cmd)
    if echo and not quiet:
        log(f'$ {shown}')
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd,
                          stdout=subprocess.PIPE if quiet else None,
                          stderr=subprocess.STDOUT if quiet else None, text=True)
    if proc.returncode != 0:
        tail = ''
        if quiet and proc.stdout:
            tail = '\n' + '\n'.join(proc.stdout.splitlines()[-30:])
        raise SetupError(f'{what or "command"} failed (exit {proc.returncode}): {shown}{tail}')
    return proc


PROBE = r'''
import importlib, json, sys, sysconfig, os
out = {"python": sys.version.split()[0], "python_tag": "cp%d%d" % sys.version_info[:2],
       "platform": sysconfig.get_platform().replace("-", "_").replace(".", "_")}
try:
    import torch
    inc = os.path.join(os.path.dirname(torch.__file__), "include")
    header = ""
    for rel in ("torch/csrc/api/include/torch/all.h", "ATen/ATen.h"):
        p = os.path.join(inc, rel)
        if os.path.exists(p):
            header += open(p, errors="ignore").read(2000)
    out["torch"] = {"version": torch.__version__, "cuda": torch.version.cuda,
                    "gpu": torch.cuda.is_available(), "header": header}
except Exception as e:
    out["torch"] = None
try:
    import torchvision
    out["torchvision"] = torchvision.__version__
except Exception:
    out["torchvision"] = None
try:
    import mmcv
    info = {"version": mmcv.__version__, "path": os.path.dirname(mmcv.__file__)}
    try:
        importlib.import_module("mmcv._ext")
        info["ops"] = True
        from mmcv.ops import get_compiling_cuda_version
        info["ops_cuda"] = get_compiling_cuda_version()
    except Exception as e:
        info["ops"] = False
        info["ops_error"] = repr(e)[:300]
    out["mmcv"] = info
except ModuleNotFoundError:
    out["mmcv"] = None
except Exception as e:
    out["mmcv"] = {"error": repr(e)[:300], "path": None, "version": None}
for name in ("mmengine", "mmdet", "mmseg", "pycocotools", "tensorboard", "setuptools", "numpy",
             "scipy", "statsmodels", "mmpretrain", "onnx", "onnxruntime", "pytorch_grad_cam",
             "mm_cbam"):
    try:
        m = importlib.import_module(name)
        out[name] = getattr(m, "__version__", "installed")
    except Exception:
        out[name] = None
try:
    import pkg_resources  # noqa: F401
    out["pkg_resources"] = True
except Exception:
    out["pkg_resources"] = False
print("@@PROBE@@" + json.dumps(out))
'''


def probe(python: Path) -> dict:
    proc = subprocess.run([str(python), '-c', PROBE], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith('@@PROBE@@'):
            return json.loads(line[len('@@PROBE@@'):])
    raise SetupError(f'could not inspect the environment of {python}:\n{proc.stderr[-2000:]}')


def pip(python: Path, *args, what=None):
    return run([python, '-m', 'pip', '--disable-pip-version-check', *args], what=what)


def ensure_venv(venv: Path, base_python: str) -> Path:
    python = venv / 'bin' / 'python'
    if python.exists():
        log(f'virtual environment: {venv} (exists)')
        return python
    log(f'creating virtual environment {venv}')
    run([base_python, '-m', 'venv', venv], what='creating the virtual environment (is the '
        'python3-venv package installed?)')
    pip(python, 'install', '-q', '--upgrade', 'pip', what='upgrading pip')
    return python


def ensure_build_tools(python: Path, info: dict):
    ok = info.get('pkg_resources') and info.get('setuptools') and parse_version(
        info['setuptools']) >= (77, 0, 3)
    have_ninja = shutil.which('ninja', path=str(python.parent)) is not None
    if ok and have_ninja:
        return
    pip(python, 'install', '-q', *BUILD_TOOLS, what='installing build tools')


def ensure_torch(python: Path, info: dict) -> dict:
    if info.get('torch') and info.get('torchvision'):
        return info
    spec = os.environ.get('MM_CBAM_TORCH', DEFAULT_TORCH).split()
    log(f'installing {" ".join(spec)} (set MM_CBAM_TORCH to choose another build)')
    pip(python, 'install', '-q', *spec, what='installing torch/torchvision')
    info = probe(python)
    if not info.get('torch'):
        raise SetupError('torch was installed but does not import; check the pip output above.')
    return info


def cache_dir() -> Path:
    default = Path(os.environ.get('XDG_CACHE_HOME', Path.home() / '.cache')) / 'mm_cbam'
    return Path(os.environ.get('MM_CBAM_CACHE_DIR', default))


def build_mmcv_wheel(python: Path, info: dict, build_cuda: bool, dest: Path) -> Path:
    std = cxx_standard(info['torch']['version'], info['torch'].get('header', ''))
    log(f'building mmcv {MMCV_VERSION} with {"CUDA" if build_cuda else "CPU"} ops, -std={std} '
        '(13-36 minutes measured on 2 cores; done once per machine, then cached)')
    with tempfile.TemporaryDirectory(prefix='mmcv-build-') as tmp:
        tmp = Path(tmp)
        pip(python, 'download', '-q', '--no-deps', '--no-binary', ':all:', '--no-build-isolation',
            '-d', tmp, f'mmcv=={MMCV_VERSION}', what='downloading the mmcv sdist')
        sdists = list(tmp.glob(f'mmcv-{MMCV_VERSION}.tar.gz'))
        if not sdists:
            raise SetupError(f'pip did not download mmcv-{MMCV_VERSION}.tar.gz into {tmp}')
        with tarfile.open(sdists[0]) as tar:
            tar.extractall(tmp, filter='data') if sys.version_info >= (3, 12) else tar.extractall(
                tmp)
        src = tmp / f'mmcv-{MMCV_VERSION}'
        setup_py = src / 'setup.py'
        setup_py.write_text(patch_setup_py(setup_py.read_text(), std))
        env = dict(os.environ, MMCV_WITH_OPS='1', FORCE_CUDA='1' if build_cuda else '0')
        env.setdefault('MAX_JOBS', str(os.cpu_count() or 2))
        if not build_cuda:
            env['CUDA_VISIBLE_DEVICES'] = ''  # mmcv's setup.py builds CUDA ops if it sees a GPU
        started = time.time()
        run([python, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-w', tmp / 'dist',
             src], env=env, what='building mmcv (compiler errors are above; a C++20-capable '
            'g++ >= 11 is needed for torch >= 2.14)')
        wheels = list((tmp / 'dist').glob('mmcv-*.whl'))
        if not wheels:
            raise SetupError('the mmcv build finished without producing a wheel')
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / wheels[0].name
        shutil.copy2(wheels[0], target.with_suffix('.partial'))
        os.replace(target.with_suffix('.partial'), target)
        log(f'mmcv built in {(time.time() - started) / 60:.1f} min, cached at {target}')
        return target


def find_mmcv_wheel(python: Path, find_links: str):
    """The mmcv wheel pip would take from ``find_links`` for this interpreter (a URL or path),
    or None: asked with ``pip install --dry-run --report``, so nothing is installed."""
    with tempfile.TemporaryDirectory(prefix='mmcv-links-') as tmp:
        report = Path(tmp) / 'report.json'
        proc = subprocess.run(
            [str(python), '-m', 'pip', '--disable-pip-version-check', 'install', '--dry-run',
             '--ignore-installed', '--no-deps', '--only-binary', 'mmcv', '--no-index',
             '--find-links', find_links, '--report', str(report), f'mmcv=={MMCV_VERSION}'],
            capture_output=True, text=True)
        if proc.returncode != 0 or not report.exists():
            return None
        items = json.loads(report.read_text()).get('install', [])
    urls = [i.get('download_info', {}).get('url', '') for i in items]
    return next((u for u in urls if u.endswith('.whl')), None)


def mmcv_from_links(python: Path, find_links: str):
    """Install mmcv from a prebuilt index and keep it if its ops load; the probe after it (or
    None if no wheel fits)."""
    wheel = find_mmcv_wheel(python, find_links)
    if wheel is None:
        log(f'no mmcv {MMCV_VERSION} wheel for this Python in {find_links}')
        return None
    log(f'installing {wheel} (--mmcv-find-links)')
    pip(python, 'install', '-q', '--no-deps', wheel, 'mmengine==0.10.7',
        what='installing the prebuilt mmcv wheel')
    info = probe(python)
    try:
        if assess_mmcv(info, replace=False) == 'ok':
            return info
    except SetupError as exc:
        log(f'the prebuilt wheel does not work with this torch ({exc}); building instead')
    pip(python, 'uninstall', '-y', 'mmcv', what='removing the unusable prebuilt mmcv')
    return None


def ensure_mmcv(python: Path, info: dict, args) -> dict:
    action = assess_mmcv(info, replace=args.replace_mmcv)
    if action == 'ok':
        log(f"mmcv {info['mmcv']['version']} with compiled ops: present")
        return info
    if action == 'replace':
        log('removing the incompatible mmcv (--replace-mmcv)')
        pip(python, 'uninstall', '-y', 'mmcv', 'mmcv-lite', 'mmcv-full', what='uninstalling mmcv')
    if args.mmcv_find_links:
        found = mmcv_from_links(python, args.mmcv_find_links)
        if found is not None:
            return found
    gpu = bool(info['torch'].get('gpu'))
    nvcc = shutil.which('nvcc') is not None or bool(os.environ.get('CUDA_HOME'))
    build_cuda = want_cuda(args.cuda, os.environ, gpu, nvcc)
    flavour = cuda_flavour(build_cuda, info['torch'].get('cuda'))
    key = wheel_cache_key(MMCV_VERSION, info['torch']['version'], flavour, info['python_tag'],
                          info['platform'])
    slot = cache_dir() / 'wheels' / key
    cached = sorted(slot.glob('mmcv-*.whl'))
    if cached:
        log(f'using cached mmcv wheel {cached[-1]} (key {key})')
        wheel = cached[-1]
    else:
        log(f'no cached mmcv wheel for key {key}')
        wheel = build_mmcv_wheel(python, info, build_cuda, slot)
    pip(python, 'install', '-q', wheel, 'mmengine==0.10.7', what='installing the mmcv wheel')
    info = probe(python)
    if assess_mmcv(info, replace=False) != 'ok':
        raise SetupError('mmcv was installed but is still not usable; see messages above.')
    return info


def project_extras(only=None, extras: bool = True) -> str:
    """The setup.cfg extras to install: detection and segmentation (default), or one of them
    (``--only mmdet|mmseg``), the test tools, and (unless ``extras=False``) ``pretrain``
    (mmpretrain, for ConvNeXt) and ``deploy`` (onnx, onnxruntime, grad-cam)."""
    base = {None: 'all,tests', 'mmdet': 'det,tests', 'mmseg': 'seg,tests'}[only]
    return base + (',pretrain,deploy' if extras else '')


def codebases(only=None):
    return ('mmdet', 'mmseg') if only is None else (only, )


def ensure_project(python: Path, info: dict, only=None, extras: bool = True):
    needed = ('mmengine', *codebases(only), 'tensorboard', 'scipy', 'statsmodels', 'mm_cbam')
    needed += ('pycocotools', ) if 'mmdet' in needed else ()
    needed += ('mmpretrain', 'onnx', 'onnxruntime', 'pytorch_grad_cam') if extras else ()
    if all(info.get(n) for n in needed) and info.get('pkg_resources'):
        log(', '.join(needed) + ': present')
        return
    pip(python, 'install', '-q', '--no-build-isolation', '-e',
        f'{ROOT}[{project_extras(only, extras)}]',
        what='installing mm_cbam and its pinned dependencies (setup.cfg)')


VERIFY = r'''
import importlib, os, torch, mmcv, mmengine, numpy, sys
CODEBASES = os.environ["MM_CBAM_CODEBASES"].split(",")
from mmcv.ops import nms, RoIAlign, get_compiling_cuda_version, get_compiler_version
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
scores = torch.tensor([0.9, 0.8, 0.7])
dets, keep = nms(boxes, scores, 0.5)
assert keep.tolist() == [0, 2], keep
feat = torch.arange(16.).view(1, 1, 4, 4)
rois = torch.tensor([[0., 0., 0., 3., 3.]])
pooled = RoIAlign((2, 2), 1.0, 2)(feat, rois)
assert pooled.shape == (1, 1, 2, 2) and torch.isfinite(pooled).all()
ops_cuda = get_compiling_cuda_version()
if torch.cuda.is_available() and ops_cuda != "not available":
    _, keep_cuda = nms(boxes.cuda(), scores.cuda(), 0.5)
    assert keep_cuda.cpu().tolist() == [0, 2]
for name in CODEBASES:
    importlib.import_module(name + ".models")
import mm_cbam
assert all(mm_cbam.AVAILABLE[name] for name in CODEBASES), mm_cbam.AVAILABLE
from mmengine.registry import MODELS
assert MODELS.get("CBAM") is not None
print("mm_cbam environment")
print(f"  python       {sys.version.split()[0]}  ({sys.executable})")
gpu = torch.cuda.is_available()
ops = "CUDA " + ops_cuda if ops_cuda != "not available" else "CPU"
print(f"  torch        {torch.__version__}  (CUDA {torch.version.cuda}, GPU visible: {gpu})")
print(f"  mmcv         {mmcv.__version__}  ops: {ops}, compiler {get_compiler_version()}")
print(f"  mmengine     {mmengine.__version__}")
for name in ("mmdet", "mmseg"):
    version = importlib.import_module(name).__version__ if name in CODEBASES else "not installed"
    print(f"  {name:<12} {version}")
print(f"  numpy        {numpy.__version__}")
print(f"  mm_cbam      {mm_cbam.__version__}")
print(f"  checks       nms + RoIAlign ran, {'/'.join(CODEBASES)} import, CBAM registered: OK")
'''


def verify(python: Path, only=None):
    env = dict(os.environ, MM_CBAM_CODEBASES=','.join(codebases(only)))
    run([python, '-c', VERIFY], env=env, what='verifying the environment (nms/RoIAlign/imports)',
        echo=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument('--venv', type=Path, default=ROOT / '.venv',
                       help='virtual environment to create/use (default: .venv in the checkout)')
    where.add_argument('--use-current-env', action='store_true',
                       help='install into the environment of the interpreter running this script')
    parser.add_argument('--python', default=sys.executable,
                        help='interpreter used to create the virtual environment')
    parser.add_argument('--cuda', choices=('auto', 'on', 'off'), default='auto',
                        help='build mmcv CUDA ops: auto = FORCE_CUDA=1 or GPU + nvcc present')
    parser.add_argument('--replace-mmcv', action='store_true',
                        help='uninstall an incompatible mmcv (wrong version / no ops) first')
    parser.add_argument('--check', action='store_true',
                        help='install nothing: inspect the environment and verify it')
    parser.add_argument('--quiet', action='store_true', help='no summary when all is in place')
    parser.add_argument('--only', choices=('mmdet', 'mmseg'),
                        help='install one codebase only (default: mmdet and mmsegmentation)')
    parser.add_argument('--no-extras', action='store_true',
                        help='skip the optional extras: mmpretrain (ConvNeXt backbones) and '
                        'onnx / onnxruntime / grad-cam (export, CAM)')
    parser.add_argument('--mmcv-find-links', metavar='URL_OR_FOLDER',
                        help="a prebuilt mmcv wheel index (OpenMMLab's per-CUDA/torch index, as "
                        '`mim install mmcv` uses, or a local folder) tried before building')
    args = parser.parse_args(argv)
    try:
        if args.use_current_env:
            python = Path(sys.executable)
        elif args.check:
            python = args.venv / 'bin' / 'python'
            if not python.exists():
                raise SetupError(f'{python} does not exist; run tools/setup_env.py first.')
        else:
            python = ensure_venv(args.venv, args.python)
        info = probe(python)
        if args.check:
            if not info.get('torch'):
                raise SetupError('torch is not installed in this environment.')
            assess_mmcv(info, replace=False)
            if not info.get('mmcv'):
                raise SetupError('mmcv is not installed; run tools/setup_env.py.')
            verify(python, args.only)
            return 0
        ensure_build_tools(python, info)
        info = probe(python)
        info = ensure_torch(python, info)
        info = ensure_mmcv(python, info, args)
        ensure_project(python, info, args.only, extras=not args.no_extras)
        verify(python, args.only)
        return 0
    except SetupError as exc:
        print('\n[setup_env] ERROR: ' + textwrap.indent(str(exc), '  ').lstrip(), file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
