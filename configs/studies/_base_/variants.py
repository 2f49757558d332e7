# The CBAM variants every shipped study compares. Each changes one thing with respect to the
# classic module (CBAM in every block of the placement's stages); the reference adds nothing.
# Study files set the placement and may override a variant (e.g. the warm-up length).
variants = dict(
    baseline=dict(description='no attention: the plain model, trained on the same batches'),
    classic=dict(description='classic CBAM: x * ca(x) * sa(.), no residual',
                 cbam=dict(type='CBAM')),
    residual_fixed=dict(description='residual CBAM, fixed alpha 0.5: x + 0.5 * (cbam(x) - x)',
                        cbam=dict(type='CBAM', residual=True, alpha_init=0.5)),
    identity_start=dict(description='residual CBAM, learnable alpha from 0 (exact identity at '
                        'insertion)',
                        cbam=dict(type='CBAM', residual=True, alpha_init=0.0,
                                  learnable_alpha=True)),
    alpha_warmup=dict(description='residual CBAM whose alpha ramps 0 -> 1 (CBAMAlphaWarmupHook), '
                      'then classic',
                      cbam=dict(type='CBAM', residual=True, alpha_init=1.0),
                      hooks=[dict(type='CBAMAlphaWarmupHook', iters=1000, start=0.0)]),
    temperature_2=dict(description='classic CBAM with fixed gate temperature T = 2 (softer '
                       'masks)',
                       cbam=dict(type='CBAM', ca_temperature=2.0, sa_temperature=2.0)),
    temperature_learnable=dict(description='classic CBAM with learnable temperatures from T = 1',
                               cbam=dict(type='CBAM', learnable_temperature=True)),
    dynamic=dict(description='classic CBAM with the dynamic spatial attention (3x3, 7x7, 7x7 '
                 'dilated 2, per-sample router)',
                 cbam=dict(type='CBAM', sa_kernels=(3, 7, 7), sa_dilations=(1, 1, 2))),
)
