# RTMDet-tiny with CBAM (identity start) inside the CSP layer of CSPNeXt stages 2-4, after each
# of its blocks (after the block's residual addition, before the concatenation with the CSP
# shortcut). mmdet's CSPNeXt has no plugins argument: InsertCBAM by module path.
_base_ = ['./rtmdet_tiny_8xb32-300e_coco.py', '../_base_/cbam_variants.py']
model = dict(
    type='InsertCBAM', model_type='RTMDet',
    insert=[
        dict(after=['backbone.stage2.1.blocks.*', 'backbone.stage3.1.blocks.*',
                    'backbone.stage4.2.blocks.*'],
             cbam={{_base_.cbam_variants.identity_start}})
    ])

# the insert scenario: attention inserted into the released plain model
load_from = ('https://download.openmmlab.com/mmdetection/v3.0/rtmdet/rtmdet_tiny_8xb32-300e_co'
             'co/rtmdet_tiny_8xb32-300e_coco_20220902_112414-78e30dcc.pth')
