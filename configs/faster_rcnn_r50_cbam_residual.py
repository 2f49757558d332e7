# Residual CBAM with a fixed alpha: out = x + 0.5 * (cbam(x) - x).
_base_ = './faster_rcnn_r50_baseline.py'
model = dict(
    backbone=dict(plugins=[
        dict(cfg=dict(type='CBAM', residual=True, alpha_init=0.5),
             stages=(False, True, True, True), position='after_conv3')
    ]))
