"""Training-time glue: hooks (stability telemetry, alpha warm-up, attention overlays, RNG state),
statistics and launch helpers."""
from .hooks import (AttentionInstabilityError, CBAMAlphaWarmupHook, CBAMStabilityHook,
                    CBAMVisualizationHook, RNGStateHook)
from .statistics import module_statistics

__all__ = [
    'CBAMStabilityHook', 'AttentionInstabilityError', 'CBAMAlphaWarmupHook', 'RNGStateHook',
    'CBAMVisualizationHook', 'module_statistics'
]
