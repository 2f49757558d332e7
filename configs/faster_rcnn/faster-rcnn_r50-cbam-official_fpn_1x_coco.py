# Faster R-CNN R50-FPN with the official CBAM in every block of all four stages (after bn3, before
# the residual addition, as in the paper), the backbone initialised from the authors' ImageNet
# ResNet-50 + CBAM (77.62 % top-1) converted with
#   python -m mm_cbam.converters.official RESNET50_CBAM_new_name_wrap.pth \
#       checkpoints/resnet50_cbam_official_mm.pth
_base_ = ['./faster-rcnn_r50_fpn_1x_coco.py', '../_base_/cbam_variants.py']
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50_cbam_official_mm.pth'),
        plugins=[
            dict(cfg={{_base_.cbam_variants.official}}, stages=(True, True, True, True),
                 position='after_conv3')
        ]))
