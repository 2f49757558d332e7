# The mini detector with CBAM in ResNet-18 stages 2-4 after conv2, as
# faster_rcnn/faster-rcnn_r18-cbam_fpn_1x_coco.py.
_base_ = ['./faster-rcnn_r18_fpn_12e_mini-coco.py', '../_base_/cbam_variants.py']
model = dict(
    backbone=dict(type='PluginResNet', plugins=[
        dict(cfg={{_base_.cbam_variants.classic}}, stages=(False, True, True, True),
             position='after_conv2')
    ]))
