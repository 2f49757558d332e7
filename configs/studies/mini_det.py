# Stability study on the embedded mini COCO set (CPU, about 35 minutes on 2 cores):
#   python tools/study.py configs/studies/mini_det.py
# A plain mini Faster R-CNN R18 is trained with the mini config's own schedule (12 epochs,
# batch 8, lr 0.04 decayed at epochs 9 and 11), then every variant is inserted into it and
# fine-tuned for 50 iterations (batch 4, 200 images, lr 0.004 -- 10x the pretraining's final
# rate -- without warm-up), on 2 seeds.
_base_ = ['./_base_/variants.py']
description = ('Insert CBAM variants into a trained mini Faster R-CNN ResNet-18-FPN (mini COCO, '
               '160x160): does the classic module shock it, what avoids that, what does each '
               'cost or gain in bbox mAP?')
base_config = '../mini/faster-rcnn_r18_fpn_12e_mini-coco.py'
scenario = 'insert'
seeds = [0, 1]
metric = 'coco/bbox_mAP'
placement = dict(backbone=dict(type='PluginResNet', stages=(False, True, True, True),
                               position='after_conv2'))
variants = dict(
    alpha_warmup=dict(hooks=[dict(type='CBAMAlphaWarmupHook', iters=20, start=0.0)]),
    fpn=dict(description='classic CBAM on each FPN output (CBAMNeck), plain backbone',
             neck_cbam=dict(type='CBAM')),
)
pretrain = dict(seed=0, cfg_options={
    'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
    'default_hooks.checkpoint.max_keep_ckpts': 1,
})
run = dict(cfg_options={
    # no validation during the run (mmengine would also validate after the last epoch):
    # tools/test.py evaluates the final checkpoint
    'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
    'train_cfg.max_epochs': 1,
    'train_dataloader.batch_size': 4,
    'train_dataloader.dataset.indices': 200,  # 50 iterations
    'param_scheduler.0.start_factor': 1.0,  # no warm-up: the shock is the attention's own
    'optim_wrapper.optimizer.lr': 0.004,
    'default_hooks.logger.interval': 1,  # per-iteration losses and statistics
    'log_processor.window_size': 1,
    'default_hooks.checkpoint.max_keep_ckpts': 1,
})
measure = dict(shock_iters=10, recovery_tol=0.05, recovery_window=5, spike_factor=1.5,
               spike_window=10)
