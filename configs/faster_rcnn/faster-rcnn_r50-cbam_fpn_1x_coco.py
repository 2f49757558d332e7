# CBAM in every Bottleneck of ResNet-50 stages 2-4, after conv3 (the paper's placement).
_base_ = ['./faster-rcnn_r50_fpn_1x_coco.py', '../_base_/cbam_variants.py']
model = dict(
    backbone=dict(plugins=[
        dict(cfg={{_base_.cbam_variants.classic}}, stages=(False, True, True, True),
             position='after_conv3')
    ]))
