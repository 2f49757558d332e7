# DeepLabV3+ R50-D8 with the official CBAM in every block of all four stages, the backbone
# initialised from the authors' ImageNet ResNet-50 + CBAM converted with
#   python tools/model_converters/cbam_official.py RESNET50_CBAM_new_name_wrap.pth \
#       checkpoints/resnet50_cbam_official_mm.pth
# The official network has a plain 7x7 stem, so the backbone is a plain-stem ResNet-50
# (PluginResNet: mmseg's ResNet, whose Bottleneck applies stacked plugins correctly) with the
# D8 dilations of the baseline instead of the deep-stem ResNetV1c.
_base_ = ['./deeplabv3plus_r50_40k_cityscapes_baseline.py', './_base_/cbam_official.py']
model = dict(
    pretrained=None,
    backbone=dict(
        type='PluginResNet',
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50_cbam_official_mm.pth'),
        plugins=[
            dict(cfg={{_base_.cbam_official}}, stages=(True, True, True, True),
                 position='after_conv3')
        ]))
