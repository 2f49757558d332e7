"""Stability studies: compare CBAM variants inserted into (or trained with) a detector or
segmentor, over seeds, and report which differences the seeds support (``tools/study.py``)."""
from .execute import RunFailed, execute
from .plan import Run, commands, plan_runs, shell_line
from .report import write_report
from .spec import Study, StudyError, load_study

__all__ = ['Study', 'StudyError', 'load_study', 'Run', 'plan_runs', 'commands', 'shell_line',
           'execute', 'RunFailed', 'write_report']
