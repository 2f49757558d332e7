"""Checkpoint files: loading without running code (:mod:`.safe_load`), writing atomically
(:mod:`.atomic`), and telling a usable checkpoint from a damaged or diverged one
(:mod:`.integrity`)."""
from .safe_load import (CheckpointLoadError, UnreadableCheckpointError, UnsafeCheckpointError,
                        safe_load)

__all__ = ['CheckpointLoadError', 'UnsafeCheckpointError', 'UnreadableCheckpointError',
           'safe_load']
