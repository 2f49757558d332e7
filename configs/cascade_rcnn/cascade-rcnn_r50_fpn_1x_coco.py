# Cascade R-CNN R50-FPN, COCO, 1x: mmdet's config (the plain counterpart).
_base_ = [
    'mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py',
    '../_base_/mm_cbam_runtime.py'
]
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
# the text log carries a summary of the attention statistics (all go to scalars.json / TensorBoard)
log_processor = dict(type='CBAMLogProcessor')
