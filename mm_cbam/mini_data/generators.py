"""Deterministic mini datasets in the real formats: COCO detection/instances, Cityscapes.

Both are generated from a seed with numpy and OpenCV only, so the same seed gives byte-identical
files on every machine. They are small enough for CPU training, yet a small detector/segmentor
has to learn something real to score well on them:

* **mini COCO** (``instances_train.json`` / ``instances_val.json`` + PNG images): three classes of
  filled shapes -- ``circle``, ``square`` (rotated) and ``triangle`` (rotated) -- of random size
  (about 8-40 % of the image side) and random colour (so colour says nothing about the class),
  on textured, gradient backgrounds with clutter (lines, small dots, hollow outlines that are not
  objects) and mutual occlusion (later shapes may cover up to about a third of earlier ones).
  Boxes are the visible extent, polygons the full shape (COCO convention), ``iscrowd=0``.
* **mini Cityscapes** (``leftImg8bit/{split}/{city}/*_leftImg8bit.png`` and
  ``gtFine/{split}/{city}/*_gtFine_labelTrainIds.png``): street-like scenes at a 1:2 aspect
  ratio with sky, buildings, vegetation, sidewalk and road bands of varying geometry and
  colour, poles, cars and pedestrians that occlude each other, and noise. Labels use the 19
  Cityscapes train ids (8 of them occur), 255 is "ignore".
"""
import json
import math
from pathlib import Path
from typing import Dict, List, Tuple

import cv2
import numpy as np

COCO_CLASSES = ('circle', 'square', 'triangle')
# Cityscapes train ids used by the generator
ROAD, SIDEWALK, BUILDING, POLE, VEGETATION, SKY, PERSON, CAR = 0, 1, 2, 5, 8, 10, 11, 13


def _background(rng: np.random.RandomState, h: int, w: int) -> np.ndarray:
    """Gradient + low-frequency blobs + pixel noise (uint8 BGR)."""
    c0, c1 = rng.randint(0, 256, 3), rng.randint(0, 256, 3)
    t = np.linspace(0, 1, w if rng.rand() < 0.5 else h)[None, :, None]
    grad = (c0 * (1 - t) + c1 * t)
    img = np.broadcast_to(grad if grad.shape[1] == w else grad.transpose(1, 0, 2),
                          (h, w, 3)).astype(np.float32)
    low = cv2.resize(rng.randn(max(2, h // 24), max(2, w // 24), 3).astype(np.float32), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    img = img + 28 * low + rng.randn(h, w, 3) * 10
    return np.clip(img, 0, 255).astype(np.uint8)


def _clutter(rng, img: np.ndarray):
    h, w = img.shape[:2]
    for _ in range(rng.randint(2, 7)):  # lines
        p1 = (int(rng.randint(0, w)), int(rng.randint(0, h)))
        p2 = (int(rng.randint(0, w)), int(rng.randint(0, h)))
        cv2.line(img, p1, p2, tuple(int(c) for c in rng.randint(0, 256, 3)), int(rng.randint(1, 3)))
    for _ in range(rng.randint(3, 12)):  # dots
        cv2.circle(img, (int(rng.randint(0, w)), int(rng.randint(0, h))), int(rng.randint(1, 4)),
                   tuple(int(c) for c in rng.randint(0, 256, 3)), -1)
    for _ in range(rng.randint(0, 3)):  # hollow outlines: look like objects, are not
        pts = _shape_polygon(rng, rng.randint(0, 3), (rng.randint(0, w), rng.randint(0, h)),
                             rng.randint(8, max(9, min(h, w) // 5)))
        cv2.polylines(img, [pts.round().astype(np.int32)], True,
                      tuple(int(c) for c in rng.randint(0, 256, 3)), 1)


def _shape_polygon(rng, cls: int, center, radius: float) -> np.ndarray:
    cx, cy = center
    theta = rng.uniform(0, 2 * math.pi)
    if cls == 0:
        angles = np.linspace(0, 2 * math.pi, 24, endpoint=False)
    elif cls == 1:
        angles = theta + np.arange(4) * math.pi / 2
    else:
        angles = theta + np.arange(3) * 2 * math.pi / 3
    return np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)


def _coco_image(rng, h: int, w: int, image_id: int, ann_start: int):
    img = _background(rng, h, w)
    _clutter(rng, img)
    anns: List[dict] = []
    masks: List[np.ndarray] = []
    for _ in range(rng.randint(1, 6)):
        cls = rng.randint(0, 3)
        radius = rng.uniform(0.06, 0.2) * min(h, w)
        center = (rng.uniform(radius * 0.6, w - radius * 0.6),
                  rng.uniform(radius * 0.6, h - radius * 0.6))
        poly = _shape_polygon(rng, cls, center, radius)
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [poly.round().astype(np.int32)], 1)
        # limit occlusion of earlier objects to about a third of their visible area
        if any((m & mask).sum() > 0.35 * max(m.sum(), 1) for m in masks):
            continue
        colour = tuple(int(c) for c in rng.randint(0, 256, 3))
        cv2.fillPoly(img, [poly.round().astype(np.int32)], colour)
        if rng.rand() < 0.5:  # a darker rim helps nothing but looks natural
            cv2.polylines(img, [poly.round().astype(np.int32)], True,
                          tuple(int(c * 0.6) for c in colour), 1)
        for m in masks:
            m[mask > 0] = 0
        masks.append(mask)
        anns.append(dict(category_id=cls + 1, poly=poly))
    out = []
    for ann, mask in zip(anns, masks):
        ys, xs = np.nonzero(mask)
        if len(xs) < 16:
            continue  # fully occluded
        x1, y1, x2, y2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        poly = np.clip(ann['poly'], 0, [w - 1, h - 1])
        out.append(dict(id=ann_start + len(out), image_id=image_id,
                        category_id=ann['category_id'],
                        bbox=[float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                        area=float(mask.sum()), iscrowd=0,
                        segmentation=[[round(float(v), 2) for v in poly.reshape(-1)]]))
    return img, out


def generate_mini_coco(root, num_train: int = 320, num_val: int = 80,
                       size: Tuple[int, int] = (160, 160), seed: int = 0) -> Dict[str, int]:
    """Write a COCO-format detection / instance segmentation set under ``root``.

    Layout: ``annotations/instances_{train,val}.json``, ``{train,val}/*.png``.
    Returns the number of images and annotations per split.
    """
    root = Path(root)
    h, w = size
    counts = {}
    for split, num, split_seed in (('train', num_train, seed), ('val', num_val, seed + 1)):
        rng = np.random.RandomState(split_seed)
        (root / split).mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i in range(num):
            img, anns = _coco_image(rng, h, w, image_id=i + 1, ann_start=len(annotations) + 1)
            name = f'{split}_{i:05d}.png'
            cv2.imwrite(str(root / split / name), img)
            images.append(dict(id=i + 1, file_name=name, height=h, width=w))
            annotations.extend(anns)
        coco = dict(images=images, annotations=annotations,
                    categories=[dict(id=i + 1, name=n, supercategory='shape')
                                for i, n in enumerate(COCO_CLASSES)])
        (root / 'annotations').mkdir(parents=True, exist_ok=True)
        (root / 'annotations' / f'instances_{split}.json').write_text(json.dumps(coco))
        counts[split] = len(images)
        counts[f'{split}_annotations'] = len(annotations)
    return counts


def _street_scene(rng, h: int, w: int):
    img = np.zeros((h, w, 3), np.float32)
    lab = np.full((h, w), 255, np.uint8)

    def paint(mask, label, colour, jitter=12):
        noise = rng.randn(h, w, 1) * jitter
        img[mask] = (np.asarray(colour, np.float32)[None] + noise[mask]).clip(0, 255)
        lab[mask] = label

    yy, xx = np.mgrid[0:h, 0:w]
    horizon = int(h * rng.uniform(0.35, 0.55))
    tilt = rng.uniform(-0.08, 0.08)
    horizon_line = horizon + tilt * (xx - w / 2)
    sky_col = (rng.randint(150, 256), rng.randint(110, 200), rng.randint(40, 130))
    paint(yy < horizon_line, SKY, sky_col, 6)
    # buildings: blocks of random width/height reaching the horizon
    x = 0
    while x < w:
        bw = int(rng.randint(w // 10, w // 4))
        top = int(horizon * rng.uniform(0.05, 0.7))
        colour = rng.randint(40, 200, 3)
        m = (xx >= x) & (xx < x + bw) & (yy >= top) & (yy < horizon_line + 2)
        paint(m, BUILDING, colour, 10)
        # windows (still "building")
        for wy in range(top + 4, int(horizon) - 4, 8):
            for wx in range(x + 3, x + bw - 4, 8):
                if rng.rand() < 0.5:
                    img[wy:wy + 3, wx:wx + 3] = colour * 0.5
        x += bw
    # vegetation patches in front of buildings
    for _ in range(rng.randint(1, 4)):
        cx, cy = rng.randint(0, w), int(horizon * rng.uniform(0.6, 1.0))
        ax, ay = rng.randint(w // 20, w // 7), rng.randint(h // 12, h // 5)
        m = ((xx - cx) / ax)**2 + ((yy - cy) / ay)**2 < 1
        paint(m & (yy < horizon_line + h * 0.1), VEGETATION,
              (rng.randint(20, 80), rng.randint(100, 200), rng.randint(20, 90)), 20)
    # sidewalk band and road
    side = horizon_line + h * rng.uniform(0.04, 0.12)
    paint((yy >= horizon_line) & (yy < side), SIDEWALK,
          (rng.randint(150, 210),) * 2 + (rng.randint(150, 220),), 8)
    road_col = (rng.randint(60, 120),) * 3
    paint(yy >= side, ROAD, road_col, 8)
    # lane markings (still road)
    lane_y = int(h * rng.uniform(0.75, 0.9))
    for lx in range(0, w, 24):
        img[lane_y:lane_y + 2, lx:lx + 12] = 230
    objects = []
    for _ in range(rng.randint(1, 4)):  # poles
        px = rng.randint(0, w - 3)
        m = (xx >= px) & (xx < px + rng.randint(2, 4)) & (yy >= horizon * rng.uniform(0.2, 0.7)) \
            & (yy < side + 2)
        objects.append((m, POLE, (rng.randint(80, 140),) * 3))
    for _ in range(rng.randint(1, 5)):  # cars on the road
        cw, ch = rng.randint(w // 12, w // 5), rng.randint(h // 12, h // 6)
        cx = rng.randint(0, w - cw)
        cy = int(rng.uniform(side.mean() if np.ndim(side) else side, h - ch))
        body = (xx >= cx) & (xx < cx + cw) & (yy >= cy) & (yy < cy + ch)
        roof = (xx >= cx + cw // 5) & (xx < cx + cw - cw // 5) & (yy >= cy - ch // 2) & (yy < cy)
        objects.append((body | roof, CAR, rng.randint(0, 256, 3)))
    for _ in range(rng.randint(1, 6)):  # pedestrians on the sidewalk or road edge
        pw, ph = rng.randint(3, max(4, w // 40)), rng.randint(h // 8, h // 4)
        px = rng.randint(0, w - pw)
        foot = int(rng.uniform(horizon + h * 0.05, h))
        torso = (np.abs(xx - px) <= pw) & (yy >= foot - ph) & (yy < foot)
        head = (xx - px)**2 + (yy - (foot - ph - pw))**2 <= (pw + 1)**2
        objects.append((torso | head, PERSON, rng.randint(0, 256, 3)))
    # painter's order by foot position: nearer (lower) objects occlude farther ones
    objects.sort(key=lambda o: np.nonzero(o[0])[0].max() if o[0].any() else 0)
    for mask, label, colour in objects:
        paint(mask, label, colour, 14)
    img += rng.randn(h, w, 3) * 4
    return np.clip(img, 0, 255).astype(np.uint8), lab


def generate_mini_cityscapes(root, num_train: int = 160, num_val: int = 40,
                             size: Tuple[int, int] = (128, 256), seed: int = 0) -> Dict[str, int]:
    """Write a Cityscapes-format segmentation set under ``root`` (train ids, 255 = ignore)."""
    root = Path(root)
    h, w = size
    counts = {}
    for split, num, split_seed, city in (('train', num_train, seed + 10, 'minitown'),
                                         ('val', num_val, seed + 11, 'minicity')):
        rng = np.random.RandomState(split_seed)
        img_dir = root / 'leftImg8bit' / split / city
        ann_dir = root / 'gtFine' / split / city
        img_dir.mkdir(parents=True, exist_ok=True)
        ann_dir.mkdir(parents=True, exist_ok=True)
        for i in range(num):
            img, lab = _street_scene(rng, h, w)
            stem = f'{city}_{i:06d}_000019'
            cv2.imwrite(str(img_dir / f'{stem}_leftImg8bit.png'), img[:, :, ::-1])
            cv2.imwrite(str(ann_dir / f'{stem}_gtFine_labelTrainIds.png'), lab)
        counts[split] = num
    return counts
