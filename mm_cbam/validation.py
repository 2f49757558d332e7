"""Argument validation shared by modules, hooks and tools: every error names the argument and
what is allowed (``ca_act='gelu' is not supported; allowed values: 'relu', 'silu'``)."""
import math
from typing import Sequence, Tuple


def strict_bool(name: str, value) -> bool:
    """``value`` if it is a bool (or 0 / 1), else a ValueError: ``'no'`` is not False."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f'{name} must be True or False, got {value!r}')


def finite_float(name: str, value) -> float:
    """``value`` as a finite float, else a ValueError naming ``name``."""
    if isinstance(value, bool):
        raise ValueError(f'{name} must be a number, got {value!r}')
    try:
        value_f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{name} must be a number, got {value!r}') from None
    if not math.isfinite(value_f):
        raise ValueError(f'{name} must be finite, got {value!r}')
    return value_f


def choice(name: str, value, allowed) -> str:
    """``value`` (case-insensitive for strings) if it is one of ``allowed``, else a ValueError
    naming the argument and the allowed values."""
    key = value.lower() if isinstance(value, str) else value
    if key not in allowed:
        allowed_str = ', '.join(repr(a) for a in allowed)
        raise ValueError(f'{name}={value!r} is not supported; allowed values: {allowed_str}')
    return key


def positive_int(name: str, value, minimum: int = 1) -> int:
    """``value`` if it is an integer >= ``minimum``, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f'{name} must be an integer >= {minimum}, got {value!r}')
    return value


def positive_float(name: str, value) -> float:
    """``value`` as a positive finite float, else a ValueError naming ``name``."""
    value_f = finite_float(name, value)
    if not value_f > 0:
        raise ValueError(f'{name} must be a positive finite number, got {value!r}')
    return value_f


def names_tuple(name: str, value, allowed, what: str = 'name') -> Tuple[str, ...]:
    """A non-empty sequence of distinct names from ``allowed`` (a single string is accepted)."""
    values = (value, ) if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f'{name} must be a non-empty sequence of {what}s from '
                         f'{tuple(allowed)}, got {value!r}')
    out = tuple(choice(f'every {what} in {name}', v, allowed) for v in values)
    if len(set(out)) != len(out):
        raise ValueError(f'{name}={value!r} repeats a {what}')
    return out


def as_int_tuple(name: str, value: Sequence) -> Tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, )
    if isinstance(value, (list, tuple)) and len(value) > 0:
        return tuple(value)
    raise ValueError(f'{name} must be an int or a non-empty sequence of ints, got {value!r}')
