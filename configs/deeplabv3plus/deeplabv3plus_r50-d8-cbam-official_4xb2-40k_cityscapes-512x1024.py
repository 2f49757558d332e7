# DeepLabV3+ R50-D8 with the official CBAM in every block of all four stages, the backbone
# initialised from the authors' ImageNet ResNet-50 + CBAM converted with
#   python -m mm_cbam.converters.official RESNET50_CBAM_new_name_wrap.pth \
#       checkpoints/resnet50_cbam_official_mm.pth
# The official network has a plain 7x7 stem, so the backbone is a plain-stem ResNet-50
# (PluginResNet: mmseg's ResNet, whose Bottleneck applies stacked plugins correctly) with the
# D8 dilations of the plain model instead of the deep-stem ResNetV1c.
_base_ = ['./deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py', '../_base_/cbam_variants.py']
model = dict(
    pretrained=None,
    backbone=dict(
        type='PluginResNet',
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50_cbam_official_mm.pth'),
        plugins=[
            dict(cfg={{_base_.cbam_variants.official}}, stages=(True, True, True, True),
                 position='after_conv3')
        ]))
