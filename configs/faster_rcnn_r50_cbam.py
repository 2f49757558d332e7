# CBAM in ResNet-50 stages 2-4 after conv3 of every Bottleneck (the paper's placement).
_base_ = './faster_rcnn_r50_baseline.py'
model = dict(
    backbone=dict(plugins=[
        dict(cfg=dict(type='CBAM'), stages=(False, True, True, True), position='after_conv3')
    ]))
