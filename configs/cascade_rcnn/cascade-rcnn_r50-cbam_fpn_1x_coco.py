# Cascade R-CNN with CBAM (identity start: learnable alpha from 0) after conv3 of every
# Bottleneck of ResNet-50 stages 2-4.
_base_ = ['./cascade-rcnn_r50_fpn_1x_coco.py', '../_base_/cbam_variants.py']
model = dict(
    backbone=dict(plugins=[
        dict(cfg={{_base_.cbam_variants.identity_start}}, stages=(False, True, True, True),
             position='after_conv3')
    ]))

# the insert scenario: attention inserted into the released plain model
load_from = ('https://download.openmmlab.com/mmdetection/v2.0/cascade_rcnn/cascade_rcnn_r50_fp'
             'n_1x_coco/cascade_rcnn_r50_fpn_1x_coco_20200316-3dc56deb.pth')
