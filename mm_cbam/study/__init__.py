"""Stability studies: CBAM variants (placement x stabiliser) inserted into a trained detector or
segmentor, fine-tuned with exact pairing against the plain model and an A/A control, and a
report of what the statistics support (``python -m mm_cbam.study``)."""
from .execute import Executor, RunFailed
from .plan import Run, plan_runs
from .report import write_report
from .spec import Study, StudyError, load_study

__all__ = ['Study', 'StudyError', 'load_study', 'Run', 'plan_runs', 'Executor', 'RunFailed',
           'write_report']
