"""Training-time glue: hooks (stability telemetry, alpha warm-up, attention overlays, RNG state),
the log processor, statistics and launch helpers."""
from .hooks import (AttentionInstabilityError, CBAMAlphaWarmupHook, CBAMStabilityHook,
                    CBAMVisualizationHook, RNGStateHook)
from .log_processor import CBAMLogProcessor
from .statistics import module_statistics

__all__ = [
    'CBAMStabilityHook', 'AttentionInstabilityError', 'CBAMAlphaWarmupHook', 'RNGStateHook',
    'CBAMVisualizationHook', 'CBAMLogProcessor', 'module_statistics'
]
