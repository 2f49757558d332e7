# UPerNet ConvNeXt-T with CBAM (identity start) in every ConvNeXt block of stages 2-4, after
# the block's MLP (pointwise_conv2, channels last) before the layer scale and the residual
# addition (no released Cityscapes model to insert into).
_base_ = ['./upernet_convnext-t_4xb2-40k_cityscapes-512x1024.py', '../_base_/cbam_variants.py']
model = dict(
    type='InsertCBAM', model_type='EncoderDecoder',
    insert=[
        dict(after=['backbone.stages.1.*.pointwise_conv2',
                    'backbone.stages.2.*.pointwise_conv2',
                    'backbone.stages.3.*.pointwise_conv2'],
             cbam={{_base_.cbam_variants.identity_start}}, layout='nhwc')
    ])
