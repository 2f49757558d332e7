from .rng_state import RNGStateHook
from .stability import AttentionInstabilityError, CBAMStabilityHook
from .visualization import CBAMVisualizationHook
from .warmup import CBAMAlphaWarmupHook

__all__ = [
    'CBAMStabilityHook', 'AttentionInstabilityError', 'CBAMAlphaWarmupHook', 'RNGStateHook',
    'CBAMVisualizationHook'
]
