# Temperature-scaled gates, fixed: gate(z / T) with T=2 (softer masks), softmax fusion, residual.
_base_ = './faster_rcnn_r50_baseline.py'
model = dict(
    backbone=dict(plugins=[
        dict(cfg=dict(type='CBAM', ca_fusion='softmax', ca_temperature=2.0, sa_temperature=2.0,
                      residual=True, alpha_init=1.0),
             stages=(False, True, True, True), position='after_conv3')
    ]))
