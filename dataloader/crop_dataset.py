"""Person crops for the 2D pose estimators.

Each item is one (subject, sequence, camera, frame): the frame image cropped around a person box
(a square of margin × the box's longer side, centred on the box) by one affine warp that also applies
the training augmentation (rotation, scale, horizontal flip with the left/right joints swapped), the
Gaussian heatmap targets, the 2D target in heatmap pixels, and the full-frame → heatmap affine that
maps predictions back to full-frame pixels. Frames may be stored downscaled: the image's own size
against the camera resolution gives the factor (pixel centres as an INTER_AREA resize places them,
``utils.codecs.crop.stored_to_full``), and 2D always refers to full-resolution pixels.

The person box comes from ``box_source`` (``data.box_source``; training and prediction use the same):

- ``silhouette``: the person's image box, from the data root's ``MySegmentsMat/ground_truth_bb`` files
  (``Human36M.person_boxes``): what the official Human3.6M boxes are, computed from foreground masks.
- ``keypoints``: the tight box of the ground-truth 2D joints (mmpose's Human3.6M convention). At
  prediction time it is optimistic: the crop's centre and scale and the extreme joints' positions
  come from the answer (a constant mean pose placed in it already scores well).
- ``detections``: boxes of a detector, from an npz the user provides (``load_box_detections``).

PCK is normalised by the ground-truth joint box whatever the crop box (``box_size``).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from dataloader.h36m import FLIP_PERMUTATION, subject_id
from dataloader.reader import DataError, load_box_detections
from utils.codecs.crop import (apply_affine, box_square, compose_affine, crop_affine, heatmap_affine, person_box,
                        stored_to_full, warp_image)
from utils.codecs.heatmap import encode_heatmaps

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
BOX_SOURCES = ("silhouette", "keypoints", "detections")


def frame_items(data, keys, cameras, stride: int) -> np.ndarray:
    """(M, 3) rows (key index, camera, frame) of every `stride`-th frame of every sequence and camera."""
    rows = []
    for k, key in enumerate(keys):
        frames = np.arange(0, len(data.positions_3d[key.subject][key.sequence]), stride)
        for cam in cameras:
            rows.append(np.stack([np.full_like(frames, k), np.full_like(frames, cam), frames], axis=1))
    return np.concatenate(rows) if rows else np.zeros((0, 3), dtype=np.int64)


REDUCED_DECODE = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                  8: cv2.IMREAD_REDUCED_COLOR_8}


def read_frame_bgr(path, reduction: int = 1) -> np.ndarray:
    """BGR uint8 (H, W, 3) as OpenCV decodes it, at 1/`reduction` of the stored size (1, 2, 4 or 8:
    libjpeg scales in the DCT domain, so a reduced JPEG decode is faster and averages, rather than drops,
    pixels); a missing or undecodable file is a DataError naming it."""
    image = cv2.imread(str(path), REDUCED_DECODE[reduction])
    if image is None:
        raise DataError(f"frame image {path} is missing or unreadable; extract the frames (python -m dataloader "
                        f"extract) or regenerate the data (make data)")
    return image


def read_frame(path, reduction: int = 1) -> np.ndarray:
    """RGB uint8 (H, W, 3) (see ``read_frame_bgr``)."""
    return cv2.cvtColor(read_frame_bgr(path, reduction), cv2.COLOR_BGR2RGB)


def normalise_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 (..., 3, H, W) RGB, as the dataset gives them → float32 with ImageNet mean/std, on their device.

    Done on the model's device rather than in the loader: a quarter of the bytes cross to the GPU and
    the workers skip a float pass over every crop (mmpose normalises in its data preprocessor likewise).
    """
    if images.dtype != torch.uint8:
        raise TypeError(f"normalise_images expects the dataset's uint8 images, got {images.dtype}")
    mean = torch.as_tensor(IMAGENET_MEAN, device=images.device)[:, None, None]
    std = torch.as_tensor(IMAGENET_STD, device=images.device)[:, None, None]
    return (images.float() / 255.0 - mean) / std


def decoded_to_input(full_to_input: np.ndarray, full_per_stored: np.ndarray, reduction: int) -> np.ndarray:
    """(2, 3) affine decoded-image px → crop px: a frame stored at 1/`full_per_stored` of the camera
    resolution (an INTER_AREA downscale: x_full + ½ = s (x_stored + ½)) and decoded at 1/`reduction`
    (pixel x covers stored pixels r·x … r·x + r − 1: x_stored + ½ = r (x + ½)), then `full_to_input`."""
    return compose_affine(full_to_input, stored_to_full(full_per_stored, reduction))


def item_boxes(data, keys, items: np.ndarray, box_source: str, detections=None) -> np.ndarray | None:
    """(M, 4) float64 person boxes x0, y0, x1, y1 (full-frame px) of `items` (rows key index, camera,
    frame), or None for ``keypoints`` (computed per batch from the joints). Read once per (sequence,
    camera), so DataLoader workers inherit them and a bad box file fails before the first batch."""
    if box_source not in BOX_SOURCES:
        raise ValueError(f"box_source {box_source!r} is not valid; choose one of: {', '.join(BOX_SOURCES)}")
    if box_source == "keypoints":
        return None
    if len(items) == 0:
        return np.zeros((0, 4))
    views, view_of_item = np.unique(items[:, :2], axis=0, return_inverse=True)     # (V, 2), (M,)
    if box_source == "detections":
        if detections is None:
            raise DataError("box_source=detections needs a boxes file: set data.detections=/path/to/boxes.npz")
        found = load_box_detections(detections, data, [(keys[k], int(c)) for k, c in views])
        tables = [found[keys[k].subject, keys[k].sequence, int(c)] for k, c in views]
    else:
        tables = [data.person_boxes(keys[k], int(c)) for k, c in views]             # V × (N_v, 4)
    starts = np.cumsum([0] + [len(t) for t in tables[:-1]])
    return np.concatenate(tables)[starts[view_of_item.reshape(-1)] + items[:, 2]]


def epoch_draws(n: int, max_items: int, seed: int, epoch: int, augment: bool, rotation: float, scale: float,
                flip_prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An epoch's items and augmentation: (rows (m,) sorted indices into the n items — a fresh random subset
    of `max_items` per epoch when augmenting, a fixed one otherwise, all when 0 —, rotations (m,) degrees
    (60 % of items rotated, uniform in ±`rotation`), scales (m,), flips (m,) bool). Item i's draw depends on
    (seed, epoch, i) only, not on how items are batched, so a resumed run draws the same."""
    if max_items and max_items < n:
        rng = np.random.default_rng((seed, epoch if augment else 0))
        rows = np.sort(rng.choice(n, max_items, replace=False))
    else:
        rows = np.arange(n)
    m = len(rows)
    if not augment:
        return rows, np.zeros(m), np.ones(m), np.zeros(m, dtype=bool)
    rng = np.random.default_rng((seed, epoch, 1))
    rotate = rng.random(m) < 0.6
    rotations = np.where(rotate, rng.uniform(-rotation, rotation, m), 0.0)
    scales = rng.uniform(1 - scale, 1 + scale, m)
    return rows, rotations, scales, rng.random(m) < flip_prob


class FrameCropDataset(Dataset):
    """Items: dict(image (3, H, W) uint8 RGB (``normalise_images`` makes the model input),
    heatmaps (J, h, w), weights (J,) (with `targets`), target_hm (J, 2), keypoints (J, 2) full-frame px,
    to_heatmap (2, 3) full frame → heatmap, flipped (), box_size () longer side of the ground-truth joint
    box in full-frame px (the PCK normaliser, whatever box the crop came from), index (4,) (subject id,
    key, camera, frame)).

    A DataLoader fetches whole batches through ``__getitems__`` (the same dict with a leading batch
    dimension; ``make_loader`` passes it through uncollated): boxes, affines, heatmaps and tensors are made
    once per batch, and only the frame read and the warp run per item.

    Args:
        data: a loaded Human3.6M (dataloader.reader).
        keys: SequenceKeys to use; cameras: camera indices; stride: every k-th frame.
        input_size, heatmap_size: (H, W) of the model input and output.
        margin: crop side / longer side of the person box.
        box_source: 'silhouette' | 'keypoints' | 'detections' (module docstring): the box the crop is
            centred and scaled on, and augmented around.
        detections: the boxes npz for ``box_source='detections'`` (``dataloader.reader.load_box_detections``).
        augment: random rotation/scale/flip (training), drawn per item from (seed, epoch).
        targets: False leaves out heatmaps/weights (prediction: their encoding is a fifth of an item's cost).
        reduced_decode: decode each frame at the smallest JPEG scale (1, ½, ¼, ⅛) that still gives the
            crop at least one image pixel per input pixel (the real 1000 × 1000 frames for a 256 × 192
            crop of a ~600 px person: ½ or ¼); False decodes every frame at its stored size (mmpose).
        max_items: 0 = all; else a subset of this size, redrawn each epoch when augmenting
            (training) and fixed otherwise (validation).
    """
    fetches_batches = True  # make_loader: __getitems__ returns the collated batch

    def __init__(self, data, keys, cameras, stride: int, input_size, heatmap_size, *, sigma: float = 2.0,
                 margin: float = 1.25, augment: bool = False, rotation: float = 30.0, scale: float = 0.25,
                 flip_prob: float = 0.5, max_items: int = 0, seed: int = 0, targets: bool = True,
                 reduced_decode: bool = False, box_source: str = "silhouette", detections=None):
        self.data, self.keys = data, list(keys)
        self.input_size, self.heatmap_size = tuple(input_size), tuple(heatmap_size)
        self.sigma, self.margin, self.augment, self.targets = sigma, margin, augment, targets
        self.reduced_decode, self.frame_shape = reduced_decode, {}  # (key index, camera) → stored (H, W)
        self.rotation, self.scale, self.flip_prob = rotation, scale, flip_prob
        self.all_items = frame_items(data, self.keys, cameras, stride)
        self.box_source = box_source
        self.all_boxes = item_boxes(data, self.keys, self.all_items, box_source, detections)  # (M, 4) or None
        self.max_items, self.seed = max_items, seed
        self.to_heatmap_from_input = heatmap_affine(self.input_size, self.heatmap_size)
        self.subject_ids = np.array([subject_id(k.subject) for k in self.keys], dtype=np.int64)
        self.resolution = {}  # (subject, camera index) → (res_w, res_h) px
        for subject in dict.fromkeys(k.subject for k in self.keys):
            for c in cameras:
                camera = data.camera(subject, c)
                self.resolution[subject, c] = (camera.res_w, camera.res_h)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Items (the subset, if `max_items`) and augmentation parameters of epoch `epoch`."""
        chosen, self.rotations, self.scales, self.flips = epoch_draws(
            len(self.all_items), self.max_items, self.seed, epoch, self.augment, self.rotation, self.scale, self.flip_prob)
        self.items = self.all_items[chosen]
        self.boxes = None if self.all_boxes is None else self.all_boxes[chosen]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, idx: int) -> dict:
        return {name: value[0] for name, value in self.__getitems__([idx]).items()}

    def _reduction(self, k: int, cam: int, res_w: int, input_per_full: float) -> int:
        """JPEG decode reduction for a crop of `input_per_full` crop px per full-frame px: the largest of
        1, 2, 4, 8 keeping ≥ 1 decoded px per crop px (1 until the view's stored size is known)."""
        shape = self.frame_shape.get((k, cam))
        if not self.reduced_decode or shape is None:
            return 1
        image_per_full = shape[1] / res_w
        return max(r for r in REDUCED_DECODE if r == 1 or image_per_full / r >= input_per_full)

    def __getitems__(self, indices) -> dict:
        """The items at `indices` as one batch: every value with a leading dimension len(indices)."""
        indices = np.asarray(indices, dtype=np.int64)
        rows = self.items[indices]                                                    # (B, 3) key, camera, frame
        keys = [self.keys[k] for k in rows[:, 0]]
        keypoints = np.stack([self.data.positions_2d[key.subject][key.sequence][cam][frame]
                              for key, (_, cam, frame) in zip(keys, rows)]).astype(np.float64)  # (B, J, 2) px
        joints_centre, joints_size = person_box(keypoints, self.margin)               # (B, 2), (B,)
        if self.boxes is None:
            center, size = joints_centre, joints_size
        else:
            center, size = box_square(self.boxes[indices], self.margin)               # (B, 2), (B,)
        flip = self.flips[indices]
        affine = crop_affine(center, size, self.input_size, self.rotations[indices], flip,
                             scale=self.scales[indices])                              # (B, 2, 3) full px → input px
        input_per_full = np.sqrt(np.abs(np.linalg.det(affine[:, :, :2])))           # (B,) crop px per full-frame px
        crops = np.empty((len(indices), *self.input_size, 3), dtype=np.uint8)
        for i, (key, (k, cam, frame)) in enumerate(zip(keys, rows)):
            res_w, res_h = self.resolution[key.subject, cam]
            reduction = self._reduction(k, cam, res_w, input_per_full[i])
            image = read_frame_bgr(self.data.frame_path(key, cam, frame), reduction)  # BGR: flipped on the crop
            stored_h, stored_w = self.frame_shape.setdefault((k, cam), image.shape[:2])  # the first read is full size
            to_input = decoded_to_input(affine[i], np.array([res_w / stored_w, res_h / stored_h]), reduction)
            crops[i] = warp_image(image, to_input, self.input_size)
        to_heatmap = compose_affine(self.to_heatmap_from_input, affine)               # (B, 2, 3) full px → heatmap px
        target = apply_affine(keypoints, to_heatmap)                                  # (B, J, 2)
        target[flip] = target[flip][:, list(FLIP_PERMUTATION)]
        batch = {"image": torch.from_numpy(np.ascontiguousarray(crops[..., ::-1].transpose(0, 3, 1, 2)))}  # RGB
        if self.targets:
            batch["heatmaps"], batch["weights"] = encode_heatmaps(target, self.heatmap_size, self.sigma)
        return batch | {
            "target_hm": torch.from_numpy(target.astype(np.float32)),
            "keypoints": torch.from_numpy(keypoints.astype(np.float32)),
            "to_heatmap": torch.from_numpy(to_heatmap.astype(np.float32)),
            "flipped": torch.from_numpy(flip),
            "box_size": torch.from_numpy((joints_size / self.margin).astype(np.float32)),
            "index": torch.from_numpy(np.stack([self.subject_ids[rows[:, 0]], rows[:, 0], rows[:, 1], rows[:, 2]], 1)),
        }


class PersonCropDataset(Dataset):
    """Person crops of a still-image dataset (COCO or MPII, ``dataloader.coco_mpii``), items as
    ``FrameCropDataset``'s plus ``present`` (J,) bool: the joints the dataset annotates as visible. An absent joint
    has weight 0 (out of the heatmap loss and, through ``weights``, out of the covariance) and a target of 0
    (never read); ``keypoints`` holds 0 there too. The crop is a square of `margin` × the longer side of the
    annotated person box; augmentation as ``FrameCropDataset``, drawn per item from (seed, epoch).

    Args:
        samples: a ``PersonSamples`` table; the other arguments as ``FrameCropDataset``.
    """
    fetches_batches = True

    def __init__(self, samples, input_size, heatmap_size, *, sigma: float = 2.0, margin: float = 1.25,
                 augment: bool = False, rotation: float = 30.0, scale: float = 0.25, flip_prob: float = 0.5,
                 max_items: int = 0, seed: int = 0):
        self.samples = samples
        self.input_size, self.heatmap_size = tuple(input_size), tuple(heatmap_size)
        self.sigma, self.margin, self.augment = sigma, margin, augment
        self.rotation, self.scale, self.flip_prob = rotation, scale, flip_prob
        self.max_items, self.seed = max_items, seed
        self.to_heatmap_from_input = heatmap_affine(self.input_size, self.heatmap_size)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.rows, self.rotations, self.scales, self.flips = epoch_draws(
            len(self.samples), self.max_items, self.seed, epoch, self.augment, self.rotation, self.scale, self.flip_prob)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx: int) -> dict:
        return {name: value[0] for name, value in self.__getitems__([idx]).items()}

    def __getitems__(self, indices) -> dict:
        indices = np.asarray(indices, dtype=np.int64)
        rows = self.rows[indices]
        present = self.samples.present[rows].copy()                                   # (B, J)
        keypoints = np.where(present[..., None], self.samples.keypoints[rows], 0.0)  # (B, J, 2) image px
        center, size = box_square(self.samples.boxes[rows], self.margin)
        flip = self.flips[indices]
        affine = crop_affine(center, size, self.input_size, self.rotations[indices], flip,
                             scale=self.scales[indices])                              # (B, 2, 3) image px → input px
        crops = np.empty((len(indices), *self.input_size, 3), dtype=np.uint8)
        for i, row in enumerate(rows):
            crops[i] = warp_image(read_frame_bgr(self.samples.images[row]), affine[i], self.input_size)
        to_heatmap = compose_affine(self.to_heatmap_from_input, affine)
        target = apply_affine(keypoints, to_heatmap)
        perm = list(FLIP_PERMUTATION)
        target[flip] = target[flip][:, perm]
        present[flip] = present[flip][:, perm]
        heatmaps, weights = encode_heatmaps(target, self.heatmap_size, self.sigma, visible=present)
        target = np.where(present[..., None], target, 0.0)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(crops[..., ::-1].transpose(0, 3, 1, 2))),  # RGB
            "heatmaps": heatmaps, "weights": weights,
            "target_hm": torch.from_numpy(target.astype(np.float32)),
            "keypoints": torch.from_numpy(keypoints.astype(np.float32)),
            "to_heatmap": torch.from_numpy(to_heatmap.astype(np.float32)),
            "flipped": torch.from_numpy(flip),
            "box_size": torch.from_numpy((np.asarray(size, dtype=np.float64).reshape(-1) / self.margin).astype(np.float32)),
            "index": torch.from_numpy(np.stack([np.full_like(rows, -1), rows, np.zeros_like(rows), np.zeros_like(rows)], 1)),
            "present": torch.from_numpy(present),
        }
