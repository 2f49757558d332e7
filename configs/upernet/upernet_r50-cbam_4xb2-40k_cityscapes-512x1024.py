# UPerNet with CBAM (identity start) after conv3 of every Bottleneck of ResNetV1c-50
# stages 2-4.
_base_ = ['./upernet_r50_4xb2-40k_cityscapes-512x1024.py', '../_base_/cbam_variants.py']
model = dict(
    backbone=dict(plugins=[
        dict(cfg={{_base_.cbam_variants.identity_start}}, stages=(False, True, True, True),
             position='after_conv3')
    ]))

# the insert scenario: attention inserted into the released plain model
load_from = ('https://download.openmmlab.com/mmsegmentation/v0.5/upernet/upernet_r50_512x1024_'
             '40k_cityscapes/upernet_r50_512x1024_40k_cityscapes_20200605_094827-aa54cb54.pth')
