# Residual CBAM with a learnable alpha starting at 0: the network starts exactly as the baseline
# (identity start) and learns how much attention to mix in; softmax avg/max fusion.
_base_ = './faster_rcnn_r50_baseline.py'
model = dict(
    backbone=dict(plugins=[
        dict(cfg=dict(type='CBAM', ca_fusion='softmax', residual=True, alpha_init=0.0,
                      learnable_alpha=True),
             stages=(False, True, True, True), position='after_conv3')
    ]))
