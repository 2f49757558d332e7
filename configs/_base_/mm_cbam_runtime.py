# Shared by every mm_cbam config: register mm_cbam (and apply its compatibility fixes) and log
# the attention's stability. TensorBoard is switched on in each family's baseline config (the
# visualizer is defined by the mmdet / mmseg base configs).
custom_imports = dict(imports=['mm_cbam'], allow_failed_imports=False)
custom_hooks = [dict(type='CBAMStabilityHook', interval=50)]
