# UPerNet ConvNeXt-T, Cityscapes 512x1024, 40k: mmseg's UPerNet R50 Cityscapes config with the
# ConvNeXt-T backbone (mmpretrain's: install the `pretrain` extra -- python tools/setup_env.py
# does -- or pip install mmpretrain==1.2.0) and the optimiser of mmseg's ConvNeXt ADE20K configs
# (mmseg releases no Cityscapes UPerNet ConvNeXt: the backbone starts from ImageNet). The plain
# counterpart.
_base_ = './upernet_r50_4xb2-40k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mm_cbam', 'mmpretrain.models'], allow_failed_imports=False)
checkpoint_file = ('https://download.openmmlab.com/mmclassification/v0/convnext/downstream/'
                   'convnext-tiny_3rdparty_32xb128-noema_in1k_20220301-795e9634.pth')
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True, type='mmpretrain.ConvNeXt', arch='tiny', out_indices=[0, 1, 2, 3],
        drop_path_rate=0.4, layer_scale_init_value=1.0, gap_before_final_norm=False,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file, prefix='backbone.')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg={'decay_rate': 0.9, 'decay_type': 'stage_wise', 'num_layers': 6},
    constructor='LearningRateDecayOptimizerConstructor')
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, begin=1500, end=40000, eta_min=0.0, by_epoch=False)
]
