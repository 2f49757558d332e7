# RegNet has no plugin mechanism: insert CBAM after the last norm of every block of stages 2-4 by
# module path. InsertCBAM builds the base model (model_type) and attaches the attention; channels
# are inferred from the matched modules and parameter names of the plain model are unchanged.
_base_ = ['./faster-rcnn_regnetx-3.2GF_fpn_1x_coco.py', '../_base_/cbam_variants.py']
model = dict(
    type='InsertCBAM',
    model_type='FasterRCNN',
    insert=[
        dict(after=['backbone.layer2.*.bn3', 'backbone.layer3.*.bn3', 'backbone.layer4.*.bn3'],
             cbam={{_base_.cbam_variants.identity_start}})
    ])
