# Stability study at COCO scale, for a GPU cluster (the same tool and measurements as the mini
# studies):
#   python tools/study.py configs/studies/coco_faster_rcnn_r50.py --launcher slurm --gpus 8 \
#       --partition PARTITION            # or --launcher pytorch --gpus 8, or --dry-run
# mmdet's released Faster R-CNN R50-FPN 1x (37.4 box AP; its 1x schedule ends at lr 2e-4) is
# the plain model; every variant is inserted into it and fine-tuned for 2 epochs (batch 16 on 8
# GPUs): linear warm-up over 500 iterations to 0.002, then cosine down to 2e-4, the released
# model's final rate; the backbone's BatchNorm frozen as in the released config (norm_eval=True).
# Validated before the first step (damage@0 -- the baseline's row there is the released model
# as downloaded), at the end of the alpha warm-up (1000 iterations) and after every epoch.
# With fewer GPUs, scale the learning rate: --cfg-options auto_scale_lr.enable=True
_base_ = ['./_base_/insert_study.py']
description = ('Insert CBAM variants into the released COCO Faster R-CNN R50-FPN 1x and '
               'fine-tune: damage at insertion, loss shock per term, recovery, box AP.')
base_config = '../faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
metric = 'coco/bbox_mAP'
equivalence_margin = 0.005  # half an AP point
placements = dict(
    residual_branch=dict(plugins=dict(stages=(False, True, True, True), position='after_conv3')),
    main_path=dict(after=['backbone.layer2', 'backbone.layer3', 'backbone.layer4'], neck=True),
)
variant_hooks = dict(alpha_warmup=[dict(type='CBAMAlphaWarmupHook', iters=1000, start=0.0)])
pretrain = dict(checkpoint='https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/'
                'faster_rcnn_r50_fpn_1x_coco/faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth')
run = dict(cfg_options={
    'train_cfg.max_epochs': 2,
    'param_scheduler': [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=500),
        dict(type='CosineAnnealingLR', eta_min=2e-4, by_epoch=True, begin=0, end=2,
             convert_to_iter_based=True),
    ],
    'optim_wrapper.optimizer.lr': 0.002,
    'default_hooks.logger.interval': 50,
    'log_processor.window_size': 50,
})
validation = dict(interval=1)  # epochs (the loop is epoch-based)
measure = dict(shock_iters=1500, recovery_tol=0.02, recovery_window=10, spike_factor=1.5,
               spike_window=20, bootstrap=200,
               components=['loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'])
