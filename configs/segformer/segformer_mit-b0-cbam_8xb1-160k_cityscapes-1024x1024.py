# SegFormer MiT-B0 with CBAM (identity start) in every transformer layer of stages 2-4, after
# the Mix-FFN's layers (they work on NCHW maps) before its residual addition.
_base_ = ['./segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py', '../_base_/cbam_variants.py']
model = dict(
    type='InsertCBAM', model_type='EncoderDecoder',
    insert=[
        dict(after=['backbone.layers.1.1.*.ffn.layers', 'backbone.layers.2.1.*.ffn.layers',
                    'backbone.layers.3.1.*.ffn.layers'],
             cbam={{_base_.cbam_variants.identity_start}})
    ])

# the insert scenario: attention inserted into the released plain model
load_from = ('https://download.openmmlab.com/mmsegmentation/v0.5/segformer/segformer_mit-b0_8x'
             '1_1024x1024_160k_cityscapes/segformer_mit-b0_8x1_1024x1024_160k_cityscapes_20211'
             '208_101857-e7f88502.pth')
