"""CBAMLogProcessor: a readable text log while every attention statistic is still recorded."""
import re
from typing import Tuple

from mmengine.registry import LOG_PROCESSORS
from mmengine.runner import LogProcessor

MODES = ('summary', 'full', 'off')
_NUMBER = re.compile(r'^-?[\d.]+(?:e[-+]?\d+)?$|^-?inf$|^nan$', re.IGNORECASE)


@LOG_PROCESSORS.register_module()
class CBAMLogProcessor(LogProcessor):
    """mmengine's LogProcessor with a compact text line for the attention statistics.

    :class:`~mm_cbam.engine.CBAMStabilityHook` logs every statistic of every attention module
    (``cbam/<layer>/<stat>``, about 70 values for a ResNet-18 with CBAM in three stages) and a
    few aggregates (``cbam_summary/<stat>``). All of them always go to ``scalars.json`` and
    TensorBoard; this processor only decides what the *text* log line shows:

    * ``'summary'`` (default): the aggregates, as one item
      ``cbam: sat_max=0.120 alpha=[0.000, 0.351] gnorm_max=0.020 nonfinite=0 alarms=0``
      (worst mask saturation over all modules, alpha range, largest attention gradient norm,
      modules with NaN/Inf, alarms raised so far, AMP step skipped);
    * ``'full'``: every statistic (mmengine's behaviour);
    * ``'off'``: nothing about attention.

    Args:
        attention_log: ``'summary'`` | ``'full'`` | ``'off'``.
        **kwargs: :class:`mmengine.runner.LogProcessor` arguments (``window_size``,
            ``by_epoch``, ``custom_cfg`` ...).

    Config: ``log_processor = dict(type='CBAMLogProcessor', attention_log='summary')`` (the
    shipped configs set it; ``--cfg-options log_processor.attention_log=full`` switches).
    """

    def __init__(self, attention_log: str = 'summary', **kwargs):
        if attention_log not in MODES:
            raise ValueError(f'attention_log={attention_log!r} is not supported; allowed values: '
                             + ', '.join(repr(m) for m in MODES))
        super().__init__(**kwargs)
        self.attention_log = attention_log

    def get_log_after_iter(self, runner, batch_idx: int, mode: str) -> Tuple[dict, str]:
        """The tag (everything, for the backends) and the text line (filtered)."""
        tag, log_str = super().get_log_after_iter(runner, batch_idx, mode)
        if self.attention_log == 'full':
            return tag, log_str
        # mmengine joins the items of the line with two spaces, each as 'name: value'
        kept, summary = [], {}
        for item in log_str.split('  '):
            if not item or item.startswith('cbam/'):
                continue
            if item.startswith('cbam_summary/'):
                name, _, value = item[len('cbam_summary/'):].partition(': ')
                summary[name] = value
                continue
            kept.append(item)
        if self.attention_log == 'summary' and summary:
            kept.append('cbam: ' + format_summary(summary))
        return tag, '  '.join(kept)


def _short(value: str) -> str:
    if not _NUMBER.match(value):
        return value
    number = float(value)
    return str(int(number)) if number.is_integer() and abs(number) < 1e9 else f'{number:.3g}'


def format_summary(summary: dict) -> str:
    """``{'sat_max': '0.1200', 'alpha_min': ...}`` -> ``sat_max=0.12 alpha=[0, 0.351] ...``."""
    parts = []
    if 'sat_max' in summary:
        parts.append(f"sat_max={_short(summary['sat_max'])}")
    if 'alpha_min' in summary and 'alpha_max' in summary:
        parts.append(f"alpha=[{_short(summary['alpha_min'])}, {_short(summary['alpha_max'])}]")
    for name in ('gnorm_max', 'nonfinite', 'alarms', 'step_skipped'):
        if name in summary:
            parts.append(f'{name}={_short(summary[name])}')
    return ' '.join(parts)
