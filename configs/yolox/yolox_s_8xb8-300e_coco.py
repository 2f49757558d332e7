# YOLOX-s (CSPDarknet), COCO, 300 epochs: mmdet's config (the plain counterpart). Its base has
# custom_hooks of its own (mode switch, norm sync, EMA), so mm_cbam's are listed here.
_base_ = 'mmdet::yolox/yolox_s_8xb8-300e_coco.py'
custom_imports = dict(imports=['mm_cbam'], allow_failed_imports=False)
custom_hooks = [
    dict(type='YOLOXModeSwitchHook', num_last_epochs=15, priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, update_buffers=True,
         priority=49),
    # mm_cbam's runtime hooks (configs/_base_/mm_cbam_runtime.py: listed here because the base
    # config has custom_hooks of its own)
    dict(type='CBAMStabilityHook'),
    dict(type='CBAMVisualizationHook', interval=1, num_images=2),
    dict(type='RNGStateHook'),
]
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
# the text log carries a summary of the attention statistics (all go to scalars.json / TensorBoard)
log_processor = dict(type='CBAMLogProcessor')
