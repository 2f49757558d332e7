"""Loading checkpoints without running code from them.

A ``.pth`` file is a pickle: loaded with ``weights_only=False`` it can run any code. torch's
``weights_only=True`` unpickler only rebuilds tensors, containers and an explicit allow-list of
globals, and every load path of mm_cbam -- and every load mmengine does once ``import mm_cbam``
has run (:func:`patch_mmengine_loaders`) -- passes ``weights_only=True`` explicitly, whatever
torch's default.

mmengine's Runner checkpoints hold one object beyond tensors and builtins: the message hub's
:class:`~mmengine.logging.HistoryBuffer` (numpy arrays of logged scalars). Its pickle refers to
``getattr(HistoryBuffer, 'mean')`` and its ``__setstate__`` writes into a class-level registry,
so allow-listing the real class and ``getattr`` lets a file widen what it may reach. Instead,
:data:`ALLOWED_GLOBALS` maps exactly these names, none of them read from mutable state:

* ``mmengine.logging.history_buffer.HistoryBuffer`` -> :class:`LoadedHistoryBuffer`, a subclass
  whose ``__setstate__`` accepts only ``max_length`` (an int) and two 1-D numeric arrays, and
  never touches the class registry; it pickles back as the real ``HistoryBuffer``;
* ``builtins.getattr`` -> :func:`statistic_reference`, which accepts only
  ``(LoadedHistoryBuffer, name)`` with ``name`` in :data:`STATISTICS` and returns an inert,
  non-callable :class:`StatisticReference`;
* numpy's array / scalar reconstructors and dtype classes (the buffers' arrays and the ``eta``).

``docs/security.md`` states the threat model entry by entry.
"""
import os
import pickle
import re
from typing import List

import numpy as np
import torch

# mmengine's default HistoryBuffer statistics: a fixed set, never read from the class registry
STATISTICS = frozenset(('min', 'max', 'current', 'mean'))
HISTORY_BUFFER = 'mmengine.logging.history_buffer.HistoryBuffer'
_STATE_KEYS = frozenset(('max_length', '_log_history', '_count_history', 'statistics_methods'))


class CheckpointLoadError(pickle.UnpicklingError):
    """A checkpoint could not be loaded: ``f'{source}: {reason}'`` on one line."""

    def __init__(self, source: str, reason: str):
        self.source, self.reason = source, reason
        super().__init__(f'{source}: {reason}')


class UnsafeCheckpointError(CheckpointLoadError):
    """A checkpoint holds something the weights-only loader refuses: a global outside the
    allow-list, a call or a state it does not allow."""


class UnreadableCheckpointError(CheckpointLoadError):
    """The file is not a checkpoint torch can read (not a pickle, damaged, a text file)."""


# what torch's weights-only unpickler (and this module) say when they refuse content
_REFUSALS = ('was not an allowed global', 'is blocked', 'refused ', 'unrecognized function',
             'Can only build', 'Can only create new object', 'Can only append',
             'Can only SETITEM', 'Can only SETITEMS', 'unsupported persistent id')


class StatisticReference:
    """What ``getattr(HistoryBuffer, 'mean')`` unpickles to: a name, not a callable."""
    __slots__ = ('name', )

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f'StatisticReference({self.name!r})'


def _refuse(message: str):
    raise pickle.UnpicklingError(message)


def _history_array(state: dict, key: str) -> np.ndarray:
    value = state.get(key)
    if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind not in 'biuf':
        _refuse(f'refused HistoryBuffer state: {key} must be a 1-D numeric numpy array, got '
                f'{type(value).__name__}')
    return value


def _history_buffer_base():
    from mmengine.logging import HistoryBuffer
    return HistoryBuffer


class LoadedHistoryBuffer(_history_buffer_base()):
    """The message hub's HistoryBuffer as a checkpoint may rebuild it.

    ``__setstate__`` takes plain data only (validated) and leaves the class-level statistics
    registry as it is; ``__reduce_ex__`` pickles it as mmengine's ``HistoryBuffer`` again, so a
    resumed run writes the same checkpoints as mmengine does.
    """

    def __setstate__(self, state) -> None:
        """Validate and set ``max_length``, ``_log_history`` and ``_count_history``."""
        if not isinstance(state, dict) or not {'_log_history', '_count_history'} <= set(state) \
                or set(state) - _STATE_KEYS:
            keys = sorted(state) if isinstance(state, dict) else type(state).__name__
            _refuse(f'refused HistoryBuffer state with keys {keys}; allowed keys: '
                    f'{sorted(_STATE_KEYS)}')
        methods = state.get('statistics_methods', {})
        if not isinstance(methods, dict) or not all(
                isinstance(v, StatisticReference) and k == v.name for k, v in methods.items()):
            _refuse('refused HistoryBuffer state: statistics_methods may only name the '
                    f'default statistics {sorted(STATISTICS)}')
        max_length = state.get('max_length', 1000000)
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            _refuse(f'refused HistoryBuffer state: max_length must be a positive int, got '
                    f'{type(max_length).__name__}')
        log = _history_array(state, '_log_history')
        count = _history_array(state, '_count_history')
        if len(log) != len(count):
            _refuse('refused HistoryBuffer state: _log_history and _count_history differ in '
                    'length')
        self._set_default_statistics()  # the four defaults, as HistoryBuffer() registers them
        self.max_length, self._log_history, self._count_history = max_length, log, count

    def __reduce_ex__(self, protocol):
        """Pickle as ``mmengine.logging.HistoryBuffer()`` with this state (the class mmengine
        saves)."""
        return _history_buffer_base(), (), self.__getstate__()


def statistic_reference(obj, name):
    """``getattr`` as a checkpoint may call it: only ``(HistoryBuffer, <default statistic>)``,
    answered with an inert :class:`StatisticReference`."""
    if obj is LoadedHistoryBuffer and isinstance(name, str) and name in STATISTICS:
        return StatisticReference(name)
    what = 'HistoryBuffer' if obj is LoadedHistoryBuffer else (
        obj.__qualname__ if isinstance(obj, type) else type(obj).__name__)
    _refuse(f'refused getattr({what}, {name!r}): only the HistoryBuffer statistics '
            f'{sorted(STATISTICS)} may be named')


def _numpy_globals() -> List[object]:
    """numpy objects that pickled arrays, scalars and dtypes refer to (numpy 1.x and 2.x)."""
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    found = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25 pickles dtypes as these classes
    if dtypes is not None:
        found += [obj for obj in vars(dtypes).values()
                  if isinstance(obj, type) and issubclass(obj, np.dtype)]
    return found


def allowed_globals() -> list:
    """The allow-list mm_cbam adds to torch's weights-only unpickler (see the module doc)."""
    return [(LoadedHistoryBuffer, HISTORY_BUFFER),
            (statistic_reference, 'builtins.getattr')] + _numpy_globals()


def install_allow_list() -> None:
    """Add :func:`allowed_globals` to torch's allow-list (torch >= 2.6 maps names to the
    stand-ins; older torch cannot, and Runner checkpoints then fail with a clear message)."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None and _torch_version() >= (2, 6):
        add(allowed_globals())


def _torch_version():
    return tuple(int(p) for p in re.findall(r'\d+', torch.__version__.split('+')[0])[:2])


def _refusal(exc: BaseException) -> str:
    """The one-line reason in torch's (multi-line) weights-only error."""
    text = str(exc)
    m = re.search(r'GLOBAL (\S+) (?:was not an allowed global|whose module)', text)
    if m:  # torch names builtins without their module in some versions ('eval')
        name = m.group(1) if '.' in m.group(1) else f'builtins.{m.group(1)}'
        return f'global {name} is not allow-listed'
    m = re.search(r'(refused [^\n]*)', text)
    if m:
        return m.group(1).rstrip('. ')
    m = re.search(r'WeightsUnpickler error: ([^\n]+)', text) or re.search(
        r'\n\n([^\n]+)', text)
    return (m.group(1) if m else text.strip().splitlines()[0])[:300]


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else ''


def _name(f) -> str:
    return str(f) if isinstance(f, (str, os.PathLike)) else getattr(f, 'name', repr(f))


def safe_load(f, map_location=None, **kwargs):
    """``torch.load(f, weights_only=True)`` with mm_cbam's allow-list.

    Raises:
        UnsafeCheckpointError: the file holds a global, call or state outside the allow-list
            (the message names the file and what was refused).
        UnreadableCheckpointError: the file is not a pickle torch can read.
    """
    kwargs.pop('weights_only', None)  # never anything else
    hint = '' if _torch_version() >= (2, 6) else (
        " (torch < 2.6 cannot allow-list mmengine's message hub safely: install torch >= 2.6)")
    try:
        return torch.load(f, map_location=map_location, weights_only=True, **kwargs)
    except pickle.UnpicklingError as exc:
        raise _load_error(_name(f), exc, hint) from None
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - a call the file made failed, or torch's reader
        raise UnreadableCheckpointError(
            _name(f), f'not a readable torch checkpoint ({type(exc).__name__}: '
            f'{_first_line(exc)})') from None


def _load_error(name: str, exc: pickle.UnpicklingError, hint: str = '') -> CheckpointLoadError:
    """The one-line error for a failed weights-only load of ``name``."""
    if any(marker in str(exc) for marker in _REFUSALS):
        return UnsafeCheckpointError(
            name, f'refused to load ({_refusal(exc)}); mm_cbam loads checkpoints with '
            f'weights_only=True, see docs/security.md{hint}')
    return UnreadableCheckpointError(name, f'not a readable torch checkpoint ({_refusal(exc)})')


def _safe_load_url(url, model_dir=None, map_location=None, progress=True, check_hash=False,
                   file_name=None):
    """mmengine's ``load_url`` (torch.hub's download and cache) loading with ``weights_only``."""
    from torch.hub import load_state_dict_from_url
    try:
        return load_state_dict_from_url(url, model_dir=model_dir, map_location=map_location,
                                        progress=progress, check_hash=check_hash,
                                        file_name=file_name, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise _load_error(url, exc) from None


class _WeightsOnlyTorch:
    """``torch`` as mmengine's checkpoint module sees it: ``load`` is :func:`safe_load`, every
    other attribute is torch's."""
    load = staticmethod(safe_load)

    def __getattr__(self, name):
        return getattr(torch, name)


def patch_mmengine_loaders() -> None:
    """Make every checkpoint scheme of mmengine (local, http(s), pavi, ceph/s3, open-mmlab,
    torchvision, mmcls) load with ``weights_only=True``: its ``torch.load`` calls go through
    :func:`safe_load`, its URL downloads through :func:`_safe_load_url`."""
    try:
        from mmengine.runner import checkpoint
    except ModuleNotFoundError:  # mmengine.runner needs OpenCV: without it nothing loads runs
        return
    checkpoint.torch = _WeightsOnlyTorch()
    checkpoint.load_url = _safe_load_url
