# Stability study at COCO scale, for a GPU cluster (the same tool and measurements as the mini
# studies):
#   python tools/study.py configs/studies/coco_faster_rcnn_r50.py --launcher slurm --gpus 8 \
#       --partition PARTITION            # or --launcher pytorch --gpus 8, or --dry-run
# mmdet's released Faster R-CNN R50-FPN 1x (37.4 box AP) is the plain baseline; every variant
# is inserted into it and fine-tuned for 4 epochs (lr 0.01, no warm-up, step at epoch 3), on
# 3 seeds. Logs every 10 iterations (mean over the 10).
_base_ = ['./_base_/variants.py']
description = ('Insert CBAM variants into the released COCO Faster R-CNN R50-FPN 1x and '
               'fine-tune: shock, recovery, stability and box AP.')
base_config = '../faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
scenario = 'insert'
seeds = [0, 1, 2]
metric = 'coco/bbox_mAP'
placement = dict(backbone=dict(stages=(False, True, True, True), position='after_conv3'))
variants = dict(
    alpha_warmup=dict(hooks=[dict(type='CBAMAlphaWarmupHook', iters=1000, start=0.0)]),
    fpn=dict(description='classic CBAM on each FPN output (CBAMNeck), plain backbone',
             neck_cbam=dict(type='CBAM')),
)
pretrain = dict(checkpoint='https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/'
                'faster_rcnn_r50_fpn_1x_coco/faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth')
run = dict(cfg_options={
    # no validation during the run (mmengine would also validate after the last epoch):
    # tools/test.py evaluates the final checkpoint
    'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
    'train_cfg.max_epochs': 4,
    'param_scheduler.0.start_factor': 1.0,
    'param_scheduler.1.milestones': [3],
    'optim_wrapper.optimizer.lr': 0.01,
    'default_hooks.logger.interval': 10,
    'log_processor.window_size': 10,
    'randomness.deterministic': False,
})
measure = dict(shock_iters=500, recovery_tol=0.02, recovery_window=10, spike_factor=1.5,
               spike_window=20)
