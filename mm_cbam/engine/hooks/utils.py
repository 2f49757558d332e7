from typing import Dict

from mmengine.model import is_model_wrapper

from ...attention import attention_modules


def runner_attention_modules(runner) -> Dict[str, object]:
    """The mm_cbam attention modules of the runner's model (unwrapped from DDP), by path."""
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    return dict(attention_modules(model))
