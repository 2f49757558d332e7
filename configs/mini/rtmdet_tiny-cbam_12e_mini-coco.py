# The mini RTMDet-tiny with CBAM (identity start) inside the CSP layer of stages 2-4, after each
# of its blocks, as rtmdet/rtmdet_tiny-cbam_8xb32-300e_coco.py.
_base_ = ['./rtmdet_tiny_12e_mini-coco.py', '../_base_/cbam_variants.py']
model = dict(
    type='InsertCBAM', model_type='RTMDet',
    insert=[
        dict(after=['backbone.stage2.1.blocks.*', 'backbone.stage3.1.blocks.*',
                    'backbone.stage4.2.blocks.*'],
             cbam={{_base_.cbam_variants.identity_start}})
    ])
