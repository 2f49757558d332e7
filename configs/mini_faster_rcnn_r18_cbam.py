# The mini detector with CBAM in ResNet-18 stages 2-4 after conv2, as faster_rcnn_r18_cbam.py.
_base_ = './mini_faster_rcnn_r18_baseline.py'
model = dict(
    backbone=dict(type='PluginResNet', plugins=[
        dict(cfg=dict(type='CBAM'), stages=(False, True, True, True), position='after_conv2')
    ]))
