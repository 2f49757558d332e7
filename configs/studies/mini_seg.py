# Insert CBAM variants into a trained mini DeepLabV3+ R18-D8 (CPU, embedded mini Cityscapes):
#   python tools/study.py configs/studies/mini_seg.py --jobs 2
# A plain segmentor is trained from scratch with the mini config's schedule (500 iterations).
# Every variant -- 7 stabilisers x 2 placements, the reference and the A/A calibration -- is
# inserted into it and fine-tuned for 30 iterations (batch 4; warm-up over 5 iterations to 0.005,
# then cosine down to 1e-4, the pretraining's final rate), BatchNorm trained as mmseg's
# Cityscapes configs train it, on 5 seeds, validated before the first step and every 10.
_base_ = ['./_base_/insert_study.py']
description = ('Insert CBAM variants into a trained mini DeepLabV3+ ResNetV1c-18 (mini '
               'Cityscapes, 128x256): does inserting break it, where, and which stabiliser '
               'prevents it?')
base_config = '../mini/deeplabv3plus_r18-d8_500i_mini-cityscapes.py'
metric = 'mIoU'
equivalence_margin = 1.0  # one mIoU point
placements = dict(
    residual_branch=dict(plugins=dict(type='PluginResNetV1c', stages=(False, True, True, True),
                                      position='after_conv2')),
    # on each backbone stage's output (stages 2-4): the decode head's and ASPP's inputs
    main_path=dict(after=['backbone.layer2', 'backbone.layer3', 'backbone.layer4']),
)
variant_hooks = dict(alpha_warmup=[dict(type='CBAMAlphaWarmupHook', iters=10, start=0.0)])
pretrain = dict(seed=0, cfg_options={
    'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
    'default_hooks.checkpoint.max_keep_ckpts': 1,
})
run = dict(cfg_options={
    'train_cfg': dict(type='IterBasedTrainLoop', max_iters=30, val_interval=10),
    'train_dataloader.batch_size': 4,
    'param_scheduler': [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
        dict(type='CosineAnnealingLR', eta_min=1e-4, by_epoch=False, begin=5, end=30),
    ],
    'optim_wrapper.optimizer.lr': 0.005,
    # no gradient clipping, as mmseg's Cityscapes schedule (the pretraining clips: from scratch)
    'optim_wrapper.clip_grad': None,
    'default_hooks.logger': dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    'log_processor': dict(by_epoch=False, window_size=1),
    'default_hooks.checkpoint': dict(type='CheckpointHook', by_epoch=False, interval=30,
                                     max_keep_ckpts=1),
})
validation = dict(interval=10)
measure = dict(shock_iters=10, recovery_tol=0.05, recovery_window=5, spike_factor=1.5,
               spike_window=10, bootstrap=200, components=['decode.loss_ce', 'aux.loss_ce'])
