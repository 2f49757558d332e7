# DINO 4-scale with CBAM (identity start) after conv3 of every Bottleneck of ResNet-50
# stages 2-4.
_base_ = ['./dino-4scale_r50_8xb2-12e_coco.py', '../_base_/cbam_variants.py']
model = dict(
    backbone=dict(plugins=[
        dict(cfg={{_base_.cbam_variants.identity_start}}, stages=(False, True, True, True),
             position='after_conv3')
    ]))

# the insert scenario: attention inserted into the released plain model
load_from = ('https://download.openmmlab.com/mmdetection/v3.0/dino/dino-4scale_r50_8xb2-12e_co'
             'co/dino-4scale_r50_8xb2-12e_coco_20221202_182705-55b2bba2.pth')
