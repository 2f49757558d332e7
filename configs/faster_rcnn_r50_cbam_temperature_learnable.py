# Learnable temperatures T = softplus(t_raw) + eps starting at 1, learnable alpha from 0.
_base_ = './faster_rcnn_r50_baseline.py'
model = dict(
    backbone=dict(plugins=[
        dict(cfg=dict(type='CBAM', ca_fusion='softmax', learnable_temperature=True,
                      residual=True, alpha_init=0.0, learnable_alpha=True),
             stages=(False, True, True, True), position='after_conv3')
    ]))
