# The one catalogue of CBAM variants: the configs (faster-rcnn_r50-cbam-<variant>_*.py ...) and
# the study files (configs/studies/) take their attention options from here, so a variant means
# the same thing everywhere (tests/test_configs checks it). Each changes one thing with respect
# to `classic`; `aa_null` is the studies' calibration: attention inserted as an exact no-op.
cbam_variants = dict(
    # x * ca(x) * sa(.), the paper's module
    classic=dict(type='CBAM'),
    # x + 0.5 * (cbam(x) - x)
    residual_fixed=dict(type='CBAM', residual=True, alpha_init=0.5),
    # x + alpha * (cbam(x) - x), learnable alpha from 0: exactly the plain model at insertion
    identity_start=dict(type='CBAM', residual=True, alpha_init=0.0, learnable_alpha=True),
    # alpha ramped 0 -> 1 by CBAMAlphaWarmupHook (cbam_variant_hooks), then classic
    alpha_warmup=dict(type='CBAM', residual=True, alpha_init=1.0),
    # softer gates: gate(z / 2)
    temperature_2=dict(type='CBAM', ca_temperature=2.0, sa_temperature=2.0),
    # gate(z / T), T = softplus(t_raw) + eps learnable from 1
    temperature_learnable=dict(type='CBAM', learnable_temperature=True),
    # dynamic spatial attention: 3x3, 7x7 and 7x7 dilated 2 mixed by a per-sample router
    dynamic=dict(type='CBAM', sa_kernels=(3, 7, 7), sa_dilations=(1, 1, 2)),
    # the official module (Woo et al., Jongchan/attention-module): hidden width C // 16 without
    # a lower bound, BatchNorm after the spatial convolution with its weight starting at 0.
    # Equal to mm_cbam.converters.OFFICIAL_CBAM; weights: python -m mm_cbam.converters.official
    official=dict(type='CBAM', reduction=16, min_hidden=1,
                  sa_norm_cfg=dict(type='BN', eps=1e-5, momentum=0.01), sa_norm_zero_init=True),
    # x + 0 * (cbam(x) - x) with alpha fixed: inserted, trained, and an exact no-op
    aa_null=dict(type='CBAM', residual=True, alpha_init=0.0),
)
# hooks a variant needs besides the attention itself
cbam_variant_hooks = dict(
    alpha_warmup=[dict(type='CBAMAlphaWarmupHook', iters=1000, start=0.0)],
)
