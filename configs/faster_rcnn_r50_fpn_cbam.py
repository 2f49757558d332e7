# CBAM on each of the five FPN output levels (one module per level); plain ResNet-50 backbone.
_base_ = './faster_rcnn_r50_baseline.py'
model = dict(
    neck=dict(type='CBAMNeck', neck_type='FPN',
              cbam=dict(type='CBAM', residual=True, alpha_init=0.0, learnable_alpha=True),
              levels=None, shared=False))
