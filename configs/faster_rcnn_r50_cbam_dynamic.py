# The notebook's final variant: dynamic multi-branch spatial attention (3x3, 7x7, 7x7 dilated 2)
# with a per-sample router, softmax fusion, learnable alpha from 0.
_base_ = './faster_rcnn_r50_baseline.py'
model = dict(
    backbone=dict(plugins=[
        dict(cfg=dict(type='CBAM', ca_fusion='softmax', sa_kernels=(3, 7, 7),
                      sa_dilations=(1, 1, 2), sa_router_hidden=8, residual=True,
                      alpha_init=0.0, learnable_alpha=True),
             stages=(False, True, True, True), position='after_conv3')
    ]))
