# Stability study on the embedded mini Cityscapes set (CPU):
#   python tools/study.py configs/studies/mini_seg.py
# A plain mini DeepLabV3+ R18 is trained for 300 iterations, then every variant is inserted into
# it and fine-tuned for 100 iterations without learning-rate warm-up, on 2 seeds.
_base_ = ['./_base_/variants.py']
description = ('Insert CBAM variants into a trained mini DeepLabV3+ ResNetV1c-18 (mini '
               'Cityscapes, 128x256 crops): shock, recovery and mIoU.')
base_config = '../mini/deeplabv3plus_r18-d8_500i_mini-cityscapes.py'
scenario = 'insert'
seeds = [0, 1]
metric = 'mIoU'
placement = dict(backbone=dict(type='PluginResNetV1c', stages=(False, True, True, True),
                               position='after_conv2'))
variants = dict(
    alpha_warmup=dict(hooks=[dict(type='CBAMAlphaWarmupHook', iters=25, start=0.0)]),
    head_inputs=dict(description='classic CBAM on the decode head inputs (backbone outputs 0 '
                     'and 3, CBAMNeck without a neck), plain backbone',
                     config=dict(model=dict(neck=dict(type='CBAMNeck',
                                                      in_channels=[32, 64, 128, 256],
                                                      levels=(0, 3), cbam=dict(type='CBAM'))))),
)
pretrain = dict(seed=0, cfg_options={
    'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
    'train_cfg.max_iters': 300,
    'param_scheduler.1.end': 300,
    'default_hooks.checkpoint.interval': 300,
})
run = dict(cfg_options={
    # no validation during the run (mmengine would also validate after the last epoch):
    # tools/test.py evaluates the final checkpoint
    'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
    'train_cfg.max_iters': 100,
    'param_scheduler.0.start_factor': 1.0,
    'param_scheduler.0.end': 1,
    'param_scheduler.1.begin': 1,
    'param_scheduler.1.end': 100,
    'optim_wrapper.optimizer.lr': 0.01,
    'default_hooks.logger.interval': 1,
    'log_processor.window_size': 1,
    'default_hooks.checkpoint.interval': 50,
    'default_hooks.checkpoint.max_keep_ckpts': 1,
})
measure = dict(shock_iters=10, recovery_tol=0.05, recovery_window=5, spike_factor=1.5,
               spike_window=10)
