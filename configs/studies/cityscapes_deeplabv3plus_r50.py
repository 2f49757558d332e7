# Stability study at Cityscapes scale, for a GPU cluster:
#   python tools/study.py configs/studies/cityscapes_deeplabv3plus_r50.py --launcher slurm \
#       --gpus 4 --partition PARTITION   # or --launcher pytorch --gpus 4, or --dry-run
# mmseg's released DeepLabV3+ R50-D8 40k (79.6 mIoU) is the plain baseline; every variant is
# inserted into it and fine-tuned for 8k iterations (lr 0.005, poly, no warm-up), on 3 seeds.
_base_ = ['./_base_/variants.py']
description = ('Insert CBAM variants into the released Cityscapes DeepLabV3+ R50-D8 and '
               'fine-tune: shock, recovery, stability and mIoU.')
base_config = '../deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py'
scenario = 'insert'
seeds = [0, 1, 2]
metric = 'mIoU'
placement = dict(backbone=dict(type='PluginResNetV1c', stages=(False, True, True, True),
                               position='after_conv3'))
variants = dict(
    alpha_warmup=dict(hooks=[dict(type='CBAMAlphaWarmupHook', iters=500, start=0.0)]),
    head_inputs=dict(description='classic CBAM on the decode head inputs (backbone outputs 0 '
                     'and 3, CBAMNeck without a neck), plain backbone',
                     config=dict(model=dict(neck=dict(type='CBAMNeck',
                                                      in_channels=[256, 512, 1024, 2048],
                                                      levels=(0, 3), cbam=dict(type='CBAM'))))),
)
pretrain = dict(checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3plus/'
                'deeplabv3plus_r50-d8_512x1024_40k_cityscapes/'
                'deeplabv3plus_r50-d8_512x1024_40k_cityscapes_20200605_094610-d222ffcd.pth')
run = dict(cfg_options={
    # no validation during the run (mmengine would also validate after the last epoch):
    # tools/test.py evaluates the final checkpoint
    'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
    'train_cfg.max_iters': 8000,
    'param_scheduler.0.end': 8000,
    'optim_wrapper.optimizer.lr': 0.005,
    'default_hooks.logger.interval': 10,
    'log_processor.window_size': 10,
    'default_hooks.checkpoint.interval': 2000,
    'randomness.deterministic': False,
})
measure = dict(shock_iters=200, recovery_tol=0.02, recovery_window=10, spike_factor=1.5,
               spike_window=20)
