from .checkpoint import FiniteCheckpointHook
from .eval_dump import EvalDumpHook
from .extra_validation import ExtraValidationHook
from .nonfinite import NonFiniteLossError, NonFiniteStopHook
from .rng_state import RNGStateHook
from .stability import AttentionInstabilityError, CBAMStabilityHook
from .visualization import CBAMVisualizationHook
from .warmup import CBAMAlphaWarmupHook

__all__ = [
    'FiniteCheckpointHook', 'NonFiniteStopHook', 'NonFiniteLossError', 'CBAMStabilityHook',
    'AttentionInstabilityError', 'CBAMAlphaWarmupHook', 'RNGStateHook', 'CBAMVisualizationHook',
    'ExtraValidationHook', 'EvalDumpHook'
]
