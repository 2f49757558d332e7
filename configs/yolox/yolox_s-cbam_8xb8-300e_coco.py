# YOLOX-s with CBAM (identity start) inside the CSP layer of CSPDarknet stages 2-4, after each
# of its bottlenecks (after the residual addition, before the concatenation with the CSP
# shortcut). mmdet's CSPDarknet has no plugins argument: InsertCBAM by module path.
_base_ = ['./yolox_s_8xb8-300e_coco.py', '../_base_/cbam_variants.py']
model = dict(
    type='InsertCBAM', model_type='YOLOX',
    insert=[
        dict(after=['backbone.stage2.1.blocks.*', 'backbone.stage3.1.blocks.*',
                    'backbone.stage4.2.blocks.*'],
             cbam={{_base_.cbam_variants.identity_start}})
    ])

# the insert scenario: attention inserted into the released plain model
load_from = ('https://download.openmmlab.com/mmdetection/v2.0/yolox/yolox_s_8x8_300e_coco/yolo'
             'x_s_8x8_300e_coco_20211121_095711-4592a793.pth')
