# Shared by every mm_cbam config: register mm_cbam (and apply its compatibility fixes), log the
# attention's stability every LoggerHook interval, draw attention overlays of two validation
# images at every validation, and keep resumed runs reproducible. TensorBoard and the compact
# attention summary in the text log (CBAMLogProcessor) are switched on in each family's baseline
# config: the visualizer and log processor are defined by the mmdet / mmseg base configs, and
# mmengine forbids the same key in two sibling bases.
custom_imports = dict(imports=['mm_cbam'], allow_failed_imports=False)
custom_hooks = [
    dict(type='CBAMStabilityHook'),
    dict(type='CBAMVisualizationHook', interval=1, num_images=2),
    dict(type='RNGStateHook'),
]
