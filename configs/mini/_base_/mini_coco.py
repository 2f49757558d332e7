# The embedded mini COCO set (python -m mm_cbam.mini_data writes data/mini_coco/) for the mini
# configs that start from a full-scale config: 160x160 images, 3 classes, boxes and polygons.
# The names carry a mini_coco_ prefix because a full config's data keys cannot be redefined by a
# sibling base (mmengine forbids duplicate keys across bases); a mini config takes them with
# train_dataloader = {{_base_.mini_coco_train_dataloader}} and so on, which merges into the
# full config's dataloader (its dataset type, sampler and collate function are kept).
mini_coco_root = 'data/mini_coco/'
mini_coco_metainfo = dict(classes=('circle', 'square', 'triangle'),
                          palette=[(220, 20, 60), (0, 128, 0), (0, 0, 230)])
mini_coco_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(160, 160), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
mini_coco_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(160, 160), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
# boxes only (detectors)
mini_coco_train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=mini_coco_root, metainfo=mini_coco_metainfo,
                 ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=4),
                 pipeline=mini_coco_train_pipeline))
mini_coco_val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=mini_coco_root, metainfo=mini_coco_metainfo,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
                 pipeline=mini_coco_test_pipeline))
mini_coco_val_evaluator = dict(ann_file=mini_coco_root + 'annotations/instances_val.json')
# boxes and instance masks from the polygons (Mask R-CNN: bbox and segm mAP)
mini_coco_mask_train_dataloader = dict(
    mini_coco_train_dataloader,
    dataset=dict(mini_coco_train_dataloader['dataset'], pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='Resize', scale=(160, 160), keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs')
    ]))
mini_coco_mask_val_dataloader = dict(
    mini_coco_val_dataloader,
    dataset=dict(mini_coco_val_dataloader['dataset'], pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(160, 160), keep_ratio=True),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
    ]))
