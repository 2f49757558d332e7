# UPerNet Swin-T (window 7), Cityscapes 512x1024, 40k: mmseg's UPerNet R50 Cityscapes config with
# the Swin-T backbone and optimiser of mmseg's Swin ADE20K configs (mmseg releases no Cityscapes
# UPerNet Swin: the backbone starts from ImageNet). The plain counterpart.
_base_ = './upernet_r50_4xb2-40k_cityscapes-512x1024.py'
checkpoint_file = ('https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/'
                   'swin_tiny_patch4_window7_224_20220317-1cdeb081.pth')
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True, type='SwinTransformer', pretrain_img_size=224, embed_dims=96,
        patch_size=4, window_size=7, mlp_ratio=4, depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24], strides=(4, 2, 2, 2), out_indices=(0, 1, 2, 3),
        qkv_bias=True, qk_scale=None, patch_norm=True, drop_rate=0., attn_drop_rate=0.,
        drop_path_rate=0.3, use_abs_pos_embed=False, act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.00006, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=40000, by_epoch=False)
]
