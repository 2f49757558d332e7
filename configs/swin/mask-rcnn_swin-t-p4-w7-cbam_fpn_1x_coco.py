# Mask R-CNN Swin-T with CBAM (identity start) after the MLP of every Swin block of stages
# 2-4, on its tokens (N, H*W, C) before the residual addition; (H, W) is the hw_shape each
# block receives.
_base_ = ['./mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', '../_base_/cbam_variants.py']
model = dict(
    type='InsertCBAM', model_type='MaskRCNN',
    insert=[
        dict(after=['backbone.stages.1.blocks.*.ffn.layers',
                    'backbone.stages.2.blocks.*.ffn.layers',
                    'backbone.stages.3.blocks.*.ffn.layers'],
             cbam={{_base_.cbam_variants.identity_start}}, layout='tokens',
             hw_shape_from='backbone.stages.*.blocks.*')
    ])

# the insert scenario: attention inserted into the released plain model
load_from = ('https://download.openmmlab.com/mmdetection/v2.0/swin/mask_rcnn_swin-t-p4-w7_fpn_'
             '1x_coco/mask_rcnn_swin-t-p4-w7_fpn_1x_coco_20210902_120937-9d6b7cfa.pth')
