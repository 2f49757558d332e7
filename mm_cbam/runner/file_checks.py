"""The files a run reads, checked before and after the datasets are built; every message names
the file.

* :func:`check_init_checkpoints` -- a missing local pretrained checkpoint fails before anything
  is built (with the converter command for the official CBAM weights).
* :func:`check_data_paths` -- a missing dataset fails before anything is built, naming the path
  and how to get the data.
* :func:`check_annotations` -- COCO-style annotation files: boxes with no area and annotations
  whose category is not among the dataset's classes are dropped by mmdet without a word; here
  they are counted and reported with the file (a warning). Run on rank 0 only.
* :func:`explain_data_error` -- after a failure while the datasets were built or read: an
  annotation file that does not parse, has no ``images`` / ``annotations``, or leaves no
  image, named with what is wrong (pycocotools raises a bare ``JSONDecodeError``, mmdet
  ``need at least one array to concatenate``); a segmentation label map with ids outside the
  classes, named with the file.
"""
import json
import os
import os.path as osp
import re
import warnings
from typing import Dict, Iterator, List, Optional, Tuple


class DataFileError(ValueError):
    """A dataset file exists but cannot be used."""


MINI_HINT = ('generate the mini data with `python -m mm_cbam.mini_data` (or run the main '
             'job, `make demo`, which does it)')
REAL_HINT = {
    'coco': 'download COCO 2017 (https://cocodataset.org) into data/coco (annotations/, '
    'train2017/, val2017/) or point the config at it with --cfg-options '
    'train_dataloader.dataset.data_root=... val_dataloader.dataset.data_root=...',
    'cityscapes': 'download Cityscapes (https://www.cityscapes-dataset.com) into '
    'data/cityscapes and create the *_labelTrainIds.png maps with mmseg\'s '
    'tools/dataset_converters/cityscapes.py, or set data_root with --cfg-options',
}


def leaf_datasets(cfg: dict) -> Iterator[dict]:
    """Leaf dataset configs (through RepeatDataset / ConcatDataset / ClassBalanced wrappers)."""
    if not isinstance(cfg, dict):
        return
    if 'dataset' in cfg:
        yield from leaf_datasets(cfg['dataset'])
    elif 'datasets' in cfg:
        for sub in cfg['datasets']:
            yield from leaf_datasets(sub)
    else:
        yield cfg


def dataset_paths(dataset: dict) -> List[Tuple[str, str]]:
    """(description, path) of every file/directory a dataset config reads."""
    root = dataset.get('data_root') or ''
    paths = []
    if dataset.get('ann_file'):
        paths.append(('ann_file', osp.join(root, dataset['ann_file'])))
    prefix = dataset.get('data_prefix') or {}
    for key, value in (prefix.items() if isinstance(prefix, dict) else []):
        if isinstance(value, str) and value:
            paths.append((f'data_prefix.{key}', osp.join(root, value)))
    if not paths and root:
        paths.append(('data_root', root))
    return paths


def check_data_paths(cfg, loaders=('train_dataloader', 'val_dataloader')) -> None:
    """Raise FileNotFoundError naming every missing dataset path and how to get the data."""
    missing = []
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not loader_cfg or loader == 'val_dataloader' and not cfg.get('val_cfg'):
            continue
        for dataset in leaf_datasets(loader_cfg.get('dataset')):
            for what, path in dataset_paths(dataset):
                if not osp.exists(path):
                    missing.append(f'{loader}.dataset.{what}: {path}')
    if not missing:
        return
    text = ' '.join(missing)
    if 'mini_' in text:
        hint = MINI_HINT
    elif 'cityscapes' in text:
        hint = REAL_HINT['cityscapes']
    else:
        hint = REAL_HINT['coco']
    raise FileNotFoundError('dataset not found:\n  ' + '\n  '.join(missing) + f'\nTo fix: {hint}.')


def _pretrained_checkpoints(obj, path: str = 'model') -> Iterator[Tuple[str, str]]:
    """(config path, checkpoint) of every ``init_cfg=dict(type='Pretrained', ...)`` in ``obj``."""
    if isinstance(obj, dict):
        if obj.get('type') == 'Pretrained' and isinstance(obj.get('checkpoint'), str):
            yield path, obj['checkpoint']
        for key, value in obj.items():
            yield from _pretrained_checkpoints(value, f'{path}.{key}')
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _pretrained_checkpoints(value, f'{path}[{i}]')


def check_init_checkpoints(cfg) -> None:
    """Raise FileNotFoundError naming every local ``Pretrained`` checkpoint that is missing, with
    the command that creates it when mm_cbam knows one (the converted official CBAM weights)."""
    missing = []
    for where, checkpoint in _pretrained_checkpoints(cfg.get('model')):
        if '://' in checkpoint or osp.exists(checkpoint):
            continue
        text = f'{where}.checkpoint: {checkpoint}'
        m = re.search(r'resnet(\d+)_cbam_official', osp.basename(checkpoint))
        if m:
            text += ('\n    create it from the official CBAM ImageNet weights '
                     '(Jongchan/attention-module, e.g. RESNET50_CBAM_new_name_wrap.pth):\n'
                     f'    python tools/model_converters/cbam_official.py OFFICIAL.pth {checkpoint}'
                     f' --depth {m.group(1)}')
        missing.append(text)
    if missing:
        raise FileNotFoundError('pretrained checkpoint not found:\n  ' + '\n  '.join(missing))


def _annotation_files(cfg) -> List[Tuple[str, dict]]:
    """(path, dataset config) of every JSON annotation file the config's loaders read."""
    files, seen = [], set()
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader_cfg = cfg.get(loader) or {}
        for dataset in leaf_datasets(loader_cfg.get('dataset')):
            for what, path in dataset_paths(dataset):
                if what == 'ann_file' and path.endswith('.json') and path not in seen:
                    seen.add(path)
                    files.append((path, dataset))
    return files


def _dataset_classes(dataset: dict) -> Optional[tuple]:
    """The class names a dataset config keeps (its ``metainfo`` or its class's METAINFO)."""
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes:
        return tuple(classes)
    try:
        from mmengine.registry import DATASETS
        cls = DATASETS.get(dataset.get('type'))
    except Exception:  # noqa: BLE001 - unknown scope or type: no class filter to report
        return None
    return tuple((getattr(cls, 'METAINFO', None) or {}).get('classes') or ()) or None


def coco_annotation_counts(data: dict, classes: Optional[tuple]) -> Dict[str, int]:
    """What mmdet's CocoDataset would silently drop from a COCO-style annotation dict:
    ``no_area`` (``w < 1`` or ``h < 1`` or ``area <= 0``) and ``unknown_category`` (category
    id not among the categories named by ``classes``)."""
    names = {c.get('id'): c.get('name') for c in data.get('categories') or []}
    keep = {i for i, n in names.items() if classes is None or n in classes}
    counts = dict(annotations=0, no_area=0, unknown_category=0)
    for ann in data.get('annotations') or []:
        counts['annotations'] += 1
        x, y, w, h = (list(ann.get('bbox') or []) + [0, 0, 0, 0])[:4]
        if ann.get('area', w * h) <= 0 or w < 1 or h < 1:
            counts['no_area'] += 1
        if ann.get('category_id') not in keep:
            counts['unknown_category'] += 1
    return counts


def check_annotations(cfg) -> List[str]:
    """Warn (and return the warnings) about annotations mmdet would drop silently, per file.
    Reads each COCO-style JSON once; on rank 0 only."""
    if os.environ.get('RANK', '0') != '0':
        return []
    found = []
    for path, dataset in _annotation_files(cfg):
        try:
            with open(path, 'rb') as f:
                data = json.loads(f.read())
        except (OSError, ValueError):
            continue  # missing or unparsable: check_data_paths / explain_data_error say so
        if not isinstance(data, dict) or 'annotations' not in data:
            continue
        counts = coco_annotation_counts(data, _dataset_classes(dataset))
        problems = []
        if counts['no_area']:
            problems.append(f"{counts['no_area']} have a box with no area (w < 1, h < 1 or "
                            'area <= 0)')
        if counts['unknown_category']:
            problems.append(f"{counts['unknown_category']} have a category id outside the "
                            "dataset's classes")
        if problems:
            found.append(f"{path}: of {counts['annotations']} annotations, "
                         + ' and '.join(problems) + '; mmdet drops them without a warning')
            warnings.warn(found[-1])
    return found


def _coco_file_problem(path: str, dataset: dict) -> Optional[str]:
    """What makes a COCO-style annotation file unusable, or None."""
    try:
        with open(path, 'rb') as f:
            data = json.loads(f.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return f'cannot be read: {err}'
    except OSError:
        return None
    if not isinstance(data, dict):
        return f'holds a {type(data).__name__}, not a COCO dict with images / annotations'
    missing = [k for k in ('images', 'annotations', 'categories') if k not in data]
    if missing:
        return f"has no {', '.join(repr(k) for k in missing)} (a COCO file needs images, " \
               'annotations and categories)'
    if not data['images']:
        return 'lists no images'
    counts = coco_annotation_counts(data, _dataset_classes(dataset))
    usable = counts['annotations'] - max(counts['no_area'], counts['unknown_category'])
    filter_cfg = dataset.get('filter_cfg') or {}
    if usable <= 0 and filter_cfg.get('filter_empty_gt', False):
        return (f"has no usable annotation ({counts['annotations']} in the file, "
                f"{counts['no_area']} without area, {counts['unknown_category']} of other "
                'categories): with filter_cfg.filter_empty_gt=True every image is dropped')
    return None


def _label_map_problem(cfg) -> Optional[str]:
    """A segmentation label map with ids outside ``[0, num_classes)`` and the ignore index."""
    import numpy as np
    from mmengine.fileio import list_dir_or_file
    num_classes = ((cfg.get('model') or {}).get('decode_head') or {}).get('num_classes')
    if not num_classes:
        return None
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for dataset in leaf_datasets((cfg.get(loader) or {}).get('dataset')):
            folder = osp.join(dataset.get('data_root') or '',
                              (dataset.get('data_prefix') or {}).get('seg_map_path') or '')
            suffix = dataset.get('seg_map_suffix', '.png')
            ignore = dataset.get('ignore_index', 255)
            if not osp.isdir(folder):
                continue
            import cv2
            for name in sorted(list_dir_or_file(folder, list_dir=False, suffix=suffix,
                                                recursive=True)):
                path = osp.join(folder, name)
                labels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
                if labels is None:
                    return f'label map {path} cannot be read as an image'
                ids = np.unique(labels)
                bad = [int(i) for i in ids if i >= num_classes and i != ignore]
                if bad:
                    return (f'label map {path} holds ids {bad[:8]} outside the {num_classes} '
                            f'classes (0..{num_classes - 1}) and the ignore index {ignore}')
    return None


def explain_data_error(cfg, exc: BaseException) -> Optional[DataFileError]:
    """A :class:`DataFileError` naming the dataset file behind ``exc`` (raised while the
    datasets were built or read), or None if no file of ``cfg`` is found at fault."""
    if isinstance(exc, IndexError) and 'out of bounds' in str(exc):
        problem = _label_map_problem(cfg)
        return DataFileError(f'{problem}: fix the labels or the model\'s num_classes') \
            if problem else None
    for path, dataset in _annotation_files(cfg):
        problem = _coco_file_problem(path, dataset)
        if problem:
            hint = (' (for the mini data: delete it and run `python -m mm_cbam.mini_data --force`)'
                    if 'mini_' in path else '')
            return DataFileError(f'annotation file {path} {problem}{hint}')
    return None
