# CBAM in ResNet-18 (BasicBlock) stages 2-4 after conv2, before the residual addition.
# Upstream BasicBlock rejects plugins; mm_cbam's PluginResNet accepts them.
_base_ = ['./faster-rcnn_r18_fpn_1x_coco.py', '../_base_/cbam_variants.py']
model = dict(
    backbone=dict(type='PluginResNet', plugins=[
        dict(cfg={{_base_.cbam_variants.classic}}, stages=(False, True, True, True),
             position='after_conv2')
    ]))
