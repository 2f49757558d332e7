# CBAM on each of the five FPN output levels (one module per level), plain ResNet-50 backbone;
# residual with a learnable alpha from 0 (identity start).
_base_ = ['./faster-rcnn_r50_fpn_1x_coco.py', '../_base_/cbam_variants.py']
model = dict(
    neck=dict(type='CBAMNeck', neck_type='FPN', cbam={{_base_.cbam_variants.identity_start}},
              levels=None, shared=False))
