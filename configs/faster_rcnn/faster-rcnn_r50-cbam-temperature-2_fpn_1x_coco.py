# CBAM with fixed gate temperature T = 2 (softer masks), ResNet-50 stages 2-4.
_base_ = ['./faster-rcnn_r50_fpn_1x_coco.py', '../_base_/cbam_variants.py']
model = dict(
    backbone=dict(plugins=[
        dict(cfg={{_base_.cbam_variants.temperature_2}}, stages=(False, True, True, True),
             position='after_conv3')
    ]))
