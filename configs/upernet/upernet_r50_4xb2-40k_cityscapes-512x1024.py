# UPerNet R50-D8, Cityscapes 512x1024, 40k: mmseg's config (the plain counterpart).
_base_ = [
    'mmseg::upernet/upernet_r50_4xb2-40k_cityscapes-512x1024.py',
    '../_base_/mm_cbam_runtime.py'
]
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
# the text log carries a summary of the attention statistics (all go to scalars.json / TensorBoard)
log_processor = dict(type='CBAMLogProcessor')
