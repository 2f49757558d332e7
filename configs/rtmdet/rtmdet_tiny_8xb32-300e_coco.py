# RTMDet-tiny (CSPNeXt), COCO, 300 epochs: mmdet's config (the plain counterpart). Its base has
# custom_hooks of its own (EMA, pipeline switch), so mm_cbam's are listed here.
_base_ = 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'
custom_imports = dict(imports=['mm_cbam'], allow_failed_imports=False)
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True,
         priority=49),
    dict(type='PipelineSwitchHook', switch_epoch=280,
         switch_pipeline={{_base_.train_pipeline_stage2}}),
    # mm_cbam's runtime hooks (configs/_base_/mm_cbam_runtime.py: listed here because the base
    # config has custom_hooks of its own)
    dict(type='CBAMStabilityHook'),
    dict(type='CBAMVisualizationHook', interval=1, num_images=2),
    dict(type='RNGStateHook'),
]
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
# the text log carries a summary of the attention statistics (all go to scalars.json / TensorBoard)
log_processor = dict(type='CBAMLogProcessor')
