"""Bad input gets one clear line naming the argument or file (issue: inputs that passed
silently or failed unclearly)."""
import json
import shutil

import cv2
import pytest

import mm_cbam  # noqa: F401
from mm_cbam.runner.config import load_config
from mm_cbam.runner.file_checks import check_annotations

from conftest import DET_CONFIG, SEG_CONFIG, SMALL_DET, run_tool


def last_line(proc) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else ''


# ----------------------------------------------------------------------------- options


def _coco_copy(mini_data, tmp_path, edit):
    data = json.loads((mini_data / 'mini_coco' / 'annotations' / 'instances_train.json')
                      .read_text())
    edit(data)
    path = tmp_path / 'instances_train.json'
    path.write_text(json.dumps(data))
    return path


@pytest.mark.slow
@pytest.mark.parametrize('edit,expected', [
    (lambda d: d.pop('annotations'), "has no 'annotations'"),
    (lambda d: d.update(annotations=[]), 'has no usable annotation (0 in the file'),
])
def test_annotation_file_without_annotations_is_named(mini_data, tmp_path, edit, expected):
    path = _coco_copy(mini_data, tmp_path, edit)
    proc = run_tool('mm_cbam.train', DET_CONFIG, '--work-dir', tmp_path / 'w', '--cfg-options',
                    *SMALL_DET, f'train_dataloader.dataset.ann_file={path}', check=False)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert last_line(proc).startswith(f'ERROR: annotation file {path} {expected}')


@pytest.mark.slow
def test_dropped_annotations_are_counted_per_file(mini_data, tmp_path):
    def edit(data):
        anns = data['annotations']
        for ann in anns[:3]:
            ann['bbox'][2] = -4.0  # negative width
        for ann in anns[3:5]:
            ann['category_id'] = 99  # no such category
    path = _coco_copy(mini_data, tmp_path, edit)
    cfg = load_config(str(DET_CONFIG), {'train_dataloader.dataset.ann_file': str(path)})
    with pytest.warns(UserWarning) as caught:
        found = check_annotations(cfg)
    total = len(json.loads(path.read_text())['annotations'])
    assert found == [f'{path}: of {total} annotations, 3 have a box with no area (w < 1, h < 1 '
                     "or area <= 0) and 2 have a category id outside the dataset's classes; "
                     'mmdet drops them without a warning']
    assert any(str(w.message) == found[0] for w in caught)


@pytest.mark.slow
def test_label_id_out_of_range_names_the_label_map(mini_data, tmp_path):
    root = tmp_path / 'mini_cityscapes'
    shutil.copytree(mini_data / 'mini_cityscapes', root)
    maps = sorted((root / 'gtFine' / 'train').rglob('*_gtFine_labelTrainIds.png'))
    for path in maps:
        labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        labels[labels == 0] = 30  # road -> an id no class has
        cv2.imwrite(str(path), labels)
    proc = run_tool('mm_cbam.train', SEG_CONFIG, '--work-dir', tmp_path / 'w', '--cfg-options',
                    f'train_dataloader.dataset.data_root={root}/', 'train_cfg.max_iters=2',
                    'train_dataloader.batch_size=2', 'train_cfg.val_interval=100', check=False)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    expected = (f'ERROR: label map {maps[0]} holds ids [30] outside the 19 classes (0..18) '
                "and the ignore index 255: fix the labels or the model's num_classes")
    assert last_line(proc) == expected
