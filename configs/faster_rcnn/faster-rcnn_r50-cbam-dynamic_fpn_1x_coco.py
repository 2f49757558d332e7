# CBAM with the dynamic spatial attention (3x3, 7x7, 7x7 dilated 2, per-sample router).
_base_ = ['./faster-rcnn_r50_fpn_1x_coco.py', '../_base_/cbam_variants.py']
model = dict(
    backbone=dict(plugins=[
        dict(cfg={{_base_.cbam_variants.dynamic}}, stages=(False, True, True, True),
             position='after_conv3')
    ]))
