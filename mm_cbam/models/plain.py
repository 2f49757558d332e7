"""The plain counterpart of a CBAM model config: the same model without mm_cbam attention.

Its parameter names are the CBAM model's minus the attention's, so it is the baseline an identity
start must reproduce, and what folding removes attention to (config level; no mmcv needed).
"""
import copy

ATTENTION_TYPES = ('CBAM', 'CBAMChannelAttention', 'CBAMSpatialAttention')


def plain_model_config(model_cfg):
    """The model config without mm_cbam attention: ``CBAMNeck`` -> its ``neck_type`` (or no
    neck), ``CBAMBackbone`` -> its ``backbone_type``, ``InsertCBAM`` -> its ``model_type``,
    attention plugins removed. The plain model has
    the same parameter names minus the attention's, so it is the baseline an identity start
    must reproduce."""
    if isinstance(model_cfg, (list, tuple)):
        return type(model_cfg)(plain_model_config(v) for v in model_cfg)
    if not isinstance(model_cfg, dict):
        return copy.deepcopy(model_cfg)
    cfg = {k: plain_model_config(v) for k, v in model_cfg.items()}
    kind = cfg.get('type')
    if kind == 'CBAMNeck':
        if cfg.get('neck_type') is None:
            return None
        rest = {k: v for k, v in cfg.items() if k not in (
            'type', 'neck_type', 'cbam', 'levels', 'shared', 'out_channels_per_level')}
        return dict(type=cfg['neck_type'], **rest)
    if kind == 'CBAMBackbone':
        rest = {k: v for k, v in cfg.items() if k not in (
            'type', 'backbone_type', 'cbam', 'levels', 'shared', 'out_channels_per_level')}
        return dict(type=cfg['backbone_type'], **rest)
    if kind == 'InsertCBAM':
        rest = {k: v for k, v in cfg.items() if k not in ('type', 'model_type', 'insert')}
        return dict(type=cfg['model_type'], **rest)
    if isinstance(cfg.get('plugins'), (list, tuple)):
        kept = [p for p in cfg['plugins']
                if not (isinstance(p, dict) and (p.get('cfg') or {}).get('type') in
                        ATTENTION_TYPES)]
        cfg['plugins'] = kept or None
    return type(model_cfg)(cfg)
