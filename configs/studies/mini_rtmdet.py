# Insert CBAM variants into a trained mini RTMDet-tiny (CSPNeXt; CPU, embedded mini COCO):
#   python tools/study.py configs/studies/mini_rtmdet.py --jobs 2
# A plain RTMDet-tiny is trained from scratch with the mini config's own schedule (12 epochs).
# Then every variant -- 7 stabilisers x 2 placements, the plain reference and the A/A
# calibration -- is inserted into it and fine-tuned for 30 iterations (batch 4; AdamW, learning
# rate warmed up over 5 iterations to 4e-4, then cosine down to 1e-4, the pretraining's final
# rate), with the backbone's BatchNorm frozen, on 5 seeds, validated before the first step and
# every 10 iterations. No EMA in the study (RTMDet's EMAHook would validate weights that have
# barely moved since the insertion, hiding what it did).
_base_ = ['./_base_/insert_study.py']
description = ('Insert CBAM variants into a trained mini RTMDet-tiny (CSPNeXt; mini COCO, '
               '160x160, frozen BN in the fine-tune): does inserting break it, where, and which '
               'stabiliser prevents it?')
base_config = '../mini/rtmdet_tiny_12e_mini-coco.py'
metric = 'coco/bbox_mAP'
equivalence_margin = 0.01  # one AP point
placements = dict(
    # inside the CSP layer of stages 2-4, after each of its blocks
    csp_blocks=dict(after=['backbone.stage2.1.blocks.*', 'backbone.stage3.1.blocks.*',
                           'backbone.stage4.2.blocks.*']),
    # on each backbone stage's output (stages 2-4) and on every PAFPN output
    main_path=dict(after=['backbone.stage2', 'backbone.stage3', 'backbone.stage4'], neck=True),
)
variant_hooks = dict(alpha_warmup=[dict(type='CBAMAlphaWarmupHook', iters=10, start=0.0)])
pretrain = dict(seed=0, cfg_options={
    'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
    'custom_hooks': [dict(type='CBAMStabilityHook'), dict(type='RNGStateHook')],  # no EMA
    'default_hooks.checkpoint.max_keep_ckpts': 1,
})
run = dict(cfg_options={
    'train_cfg': dict(type='IterBasedTrainLoop', max_iters=30, val_interval=10),
    'train_dataloader.batch_size': 4,
    'train_dataloader.sampler': dict(type='InfiniteSampler', shuffle=True),
    'train_dataloader.batch_sampler': None,
    'param_scheduler': [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
        dict(type='CosineAnnealingLR', eta_min=1e-4, by_epoch=False, begin=5, end=30),
    ],
    'optim_wrapper.optimizer.lr': 0.0004,
    'model.backbone.norm_eval': True,
    'custom_hooks': [dict(type='CBAMStabilityHook'), dict(type='RNGStateHook')],  # no EMA
    'default_hooks.logger': dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    'log_processor': dict(by_epoch=False, window_size=1),
    'default_hooks.checkpoint': dict(type='CheckpointHook', by_epoch=False, interval=30,
                                     max_keep_ckpts=1),
})
validation = dict(interval=10)
measure = dict(shock_iters=10, recovery_tol=0.05, recovery_window=5, spike_factor=1.5,
               spike_window=10, bootstrap=200, components=['loss_cls', 'loss_bbox'])
