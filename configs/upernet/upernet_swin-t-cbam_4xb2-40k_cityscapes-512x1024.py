# UPerNet Swin-T with CBAM (identity start) after the MLP of every Swin block of stages 2-4,
# on its tokens before the residual addition (no released Cityscapes model to insert into).
_base_ = ['./upernet_swin-t_4xb2-40k_cityscapes-512x1024.py', '../_base_/cbam_variants.py']
model = dict(
    type='InsertCBAM', model_type='EncoderDecoder',
    insert=[
        dict(after=['backbone.stages.1.blocks.*.ffn.layers',
                    'backbone.stages.2.blocks.*.ffn.layers',
                    'backbone.stages.3.blocks.*.ffn.layers'],
             cbam={{_base_.cbam_variants.identity_start}}, layout='tokens',
             hw_shape_from='backbone.stages.*.blocks.*')
    ])
