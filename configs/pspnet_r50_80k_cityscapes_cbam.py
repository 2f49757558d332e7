# PSPNet with CBAM in ResNetV1c-50 stages 2-4 after conv3.
_base_ = './pspnet_r50_80k_cityscapes_baseline.py'
model = dict(
    backbone=dict(plugins=[
        dict(cfg=dict(type='CBAM'), stages=(False, True, True, True), position='after_conv3')
    ]))
