"""Crafted checkpoints for the security tests: pickles that try to run code.

:class:`Call` pickles as ``func(*args)`` (a REDUCE) and :class:`Built` as ``cls()`` followed by
``BUILD state``, so payloads are written as expressions of real objects (every global is the
real one, pickled by name). :func:`gadget` is the chain reported against mm_cbam's earlier
allow-list: widen the HistoryBuffer statistics registry through ``__setstate__``, then use the
"restricted" getattr and torch's ``_rebuild_from_type_v2`` (which calls any callable on the
stack) to reach ``eval``. Every payload, if it ran, would create ``marker``.
"""
import os

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from torch._tensor import _rebuild_from_type_v2

try:
    from numpy._core import multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray


class Call:
    """Pickles as ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args

    def __call__(self, *args):  # pickle requires the reduce function to be callable
        raise AssertionError('only pickled, never called')


class Built:
    """Pickles as ``obj = func(*args)`` then ``BUILD state`` (``obj.__setstate__(state)``)."""

    def __init__(self, func, state, args=()):
        self.func, self.state, self.args = func, state, args

    def __reduce__(self):
        return self.func, self.args, self.state


def _rebuild(func, new_type, *args):
    """``func(*args)`` through torch's allow-listed ``_rebuild_from_type_v2``."""
    return Call(_rebuild_from_type_v2, func, new_type, args, {})


def _history_state(**extra):
    state = dict(max_length=10, _log_history=np.zeros(2), _count_history=np.ones(2))
    state.update(extra)
    return state


def write_marker_code(marker) -> str:
    return f'open({str(marker)!r}, "w").close()'


def gadget(marker, inject: bool = True):
    """The reported chain: HistoryBuffer state widens the registry, getattr reaches
    ``object.__getattribute__`` and ``type``, ``_rebuild_from_type_v2`` walks from
    ``HistoryBuffer.mean.__globals__`` to ``__builtins__['eval']`` and calls it."""
    getattr_hb = lambda name: Call(getattr, HistoryBuffer, name)  # noqa: E731
    type_ = getattr_hb('__class__')
    type_of = lambda x: _rebuild(type_, type_, x)  # noqa: E731
    attr = getattr_hb('__getattribute__')  # object.__getattribute__
    dict_t, builtin_t = type_of({}), type_of(multiarray._reconstruct)
    module_globals = _rebuild(attr, dict_t, getattr_hb('mean'), '__globals__')
    builtins = _rebuild(_rebuild(attr, builtin_t, module_globals, 'get'), dict_t, '__builtins__')
    eval_ = _rebuild(_rebuild(attr, builtin_t, builtins, 'get'), builtin_t, 'eval')
    run = _rebuild(eval_, type_of(None), write_marker_code(marker))
    widen = Built(HistoryBuffer, _history_state(
        statistics_methods={'__class__': 0, '__getattribute__': 0}))
    return [widen, run] if inject else [run]


def payloads(marker):
    """``name -> object`` of every crafted payload."""
    code = write_marker_code(marker)
    return {
        'reduce_os_system': Call(os.system, f'touch {marker}'),
        'reduce_eval': Call(eval, code),
        'gadget': gadget(marker),
        'gadget_without_registry_widening': gadget(marker, inject=False),
        'getattr_dunder_of_history_buffer': Call(getattr, HistoryBuffer, '__init__'),
        'getattr_of_another_object': Call(getattr, np.ndarray, 'tofile'),
        'getattr_statistic_then_called': _rebuild(
            Call(getattr, HistoryBuffer, 'mean'), np.ndarray, 'x'),
        'history_state_widens_registry': Built(HistoryBuffer, _history_state(
            statistics_methods={'__globals__': Call(getattr, HistoryBuffer, 'mean')})),
        'history_state_extra_attribute': Built(HistoryBuffer, _history_state(
            __class__=np.ndarray)),
        'history_state_object_array': Built(HistoryBuffer, _history_state(
            _log_history=np.array([1, 'x'], dtype=object))),
        'history_state_not_a_dict': Built(HistoryBuffer, [1, 2]),
        'numpy_reconstruct_other_class': Call(multiarray._reconstruct, HistoryBuffer, (1, ),
                                              b'b'),
        'numpy_scalar_of_eval': Call(multiarray.scalar, np.dtype('O'), Call(eval, code)),
        'numpy_dtype_class_of_eval': Call(type(np.dtype('float64')), Call(eval, code)),
        'numpy_array_state_with_eval': Built(
            multiarray._reconstruct, (1, (1, ), np.dtype('O'), False, [Call(eval, code)]),
            args=(np.ndarray, (0, ), b'b')),
    }


LOCATIONS = ('meta', 'message_hub', 'state_dict')


def save_crafted(path, payload, where: str, base: dict = None) -> str:
    """A checkpoint (``base`` or a minimal Runner-like one) with ``payload`` inside
    ``where``."""
    ckpt = base if base is not None else dict(
        meta=dict(epoch=1, iter=1), state_dict={'w': torch.zeros(2)},
        message_hub=dict(log_scalars={}, runtime_info={}, resumed_keys={}))
    if where == 'meta':
        ckpt['meta']['payload'] = payload
    elif where == 'message_hub':
        ckpt['message_hub']['log_scalars']['train/payload'] = payload
    else:
        ckpt['state_dict']['payload'] = payload
    torch.save(ckpt, path)
    return str(path)
