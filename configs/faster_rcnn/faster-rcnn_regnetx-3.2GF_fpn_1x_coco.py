# Faster R-CNN RegNetX-3.2GF-FPN, COCO, 1x.
_base_ = [
    'mmdet::regnet/faster-rcnn_regnetx-3.2GF_fpn_1x_coco.py',
    '../_base_/mm_cbam_runtime.py'
]
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
# the text log carries a summary of the attention statistics (all go to scalars.json / TensorBoard)
log_processor = dict(type='CBAMLogProcessor')
