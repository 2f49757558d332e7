# Residual CBAM with a learnable alpha from 0: the model starts exactly as the plain one.
_base_ = ['./faster-rcnn_r50_fpn_1x_coco.py', '../_base_/cbam_variants.py']
model = dict(
    backbone=dict(plugins=[
        dict(cfg={{_base_.cbam_variants.identity_start}}, stages=(False, True, True, True),
             position='after_conv3')
    ]))
