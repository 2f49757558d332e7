# CBAM in ResNet-18 (BasicBlock) stages 2-4, after conv2 (before the residual addition).
# Upstream BasicBlock rejects plugins; mm_cbam's PluginResNet accepts them.
_base_ = './faster_rcnn_r18_baseline.py'
model = dict(
    backbone=dict(type='PluginResNet', plugins=[
        dict(cfg=dict(type='CBAM'), stages=(False, True, True, True), position='after_conv2')
    ]))
