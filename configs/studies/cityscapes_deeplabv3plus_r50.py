# Stability study at Cityscapes scale, for a GPU cluster:
#   python tools/study.py configs/studies/cityscapes_deeplabv3plus_r50.py --launcher slurm \
#       --gpus 4 --partition PARTITION
# mmseg's released DeepLabV3+ R50-D8 (512x1024, 40k iterations, 79.61 mIoU; its poly schedule
# ends at lr 1e-4) is the plain model; every variant is inserted into it and fine-tuned for 8000
# iterations (batch 8 on 4 GPUs): linear warm-up over 200 iterations to 0.002, then poly down to
# 1e-4, the released model's final rate; BatchNorm trained as the released config trains it.
# Validated before the first step (the baseline's row there is the released model as
# downloaded), at the end of the alpha warm-up (500 iterations) and every 2000 iterations.
_base_ = ['./_base_/insert_study.py']
description = ('Insert CBAM variants into the released Cityscapes DeepLabV3+ R50-D8 and '
               'fine-tune: damage at insertion, loss shock per term, recovery, mIoU.')
base_config = '../deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py'
metric = 'mIoU'
equivalence_margin = 0.5  # half a mIoU point
placements = dict(
    residual_branch=dict(plugins=dict(stages=(False, True, True, True), position='after_conv3')),
    main_path=dict(after=['backbone.layer2', 'backbone.layer3', 'backbone.layer4']),
)
variant_hooks = dict(alpha_warmup=[dict(type='CBAMAlphaWarmupHook', iters=500, start=0.0)])
pretrain = dict(checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3plus/'
                'deeplabv3plus_r50-d8_512x1024_40k_cityscapes/deeplabv3plus_r50-d8_512x1024_40k_'
                'cityscapes_20200605_094610-d222ffcd.pth')
run = dict(cfg_options={
    'train_cfg.max_iters': 8000,
    'param_scheduler': [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=200),
        dict(type='PolyLR', eta_min=1e-4, power=0.9, by_epoch=False, begin=200, end=8000),
    ],
    'optim_wrapper.optimizer.lr': 0.002,
    'default_hooks.logger.interval': 50,
    'log_processor.window_size': 50,
    'default_hooks.checkpoint.interval': 2000,
})
validation = dict(interval=2000)
measure = dict(shock_iters=1000, recovery_tol=0.02, recovery_window=10, spike_factor=1.5,
               spike_window=20, bootstrap=200, components=['decode.loss_ce', 'aux.loss_ce'])
