"""Person crops for the 2D pose estimators.

Each item is one (subject, sequence, camera, frame): the frame image cropped around the
ground-truth 2D box (margin × its longer side) by one affine warp that also applies the training
augmentation (rotation, scale, horizontal flip with the left/right joints swapped), the Gaussian
heatmap targets, the 2D target in heatmap pixels, and the full-frame → heatmap affine that maps
predictions back to full-frame pixels. Frames may be stored downscaled: the image's own size
against the camera resolution gives the factor, and 2D always refers to full-resolution pixels.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from dataloader.h36m import FLIP_PERMUTATION, subject_id
from dataloader.reader import DataError
from utils.crop import apply_affine, compose_affine, crop_affine, heatmap_affine, person_box, warp_image
from utils.heatmap import encode_heatmaps

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def frame_items(data, keys, cameras, stride: int) -> np.ndarray:
    """(M, 3) rows (key index, camera, frame) of every `stride`-th frame of every sequence and camera."""
    rows = []
    for k, key in enumerate(keys):
        frames = np.arange(0, len(data.positions_3d[key.subject][key.sequence]), stride)
        for cam in cameras:
            rows.append(np.stack([np.full_like(frames, k), np.full_like(frames, cam), frames], axis=1))
    return np.concatenate(rows) if rows else np.zeros((0, 3), dtype=np.int64)


def read_frame(path) -> np.ndarray:
    """RGB uint8 (H, W, 3); a missing or undecodable file is a DataError naming it."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"frame image {path} is missing or unreadable; extract the frames (python -m dataloader "
                        f"extract) or regenerate the data (make data)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def normalise_image(crop: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) RGB → float (3, H, W), ImageNet mean/std."""
    x = (crop.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


class FrameCropDataset(Dataset):
    """Items: dict(image (3, H, W), heatmaps (J, h, w), weights (J,) (with `targets`), target_hm (J, 2),
    keypoints (J, 2) full-frame px, to_heatmap (2, 3) full frame → heatmap, box_size (), index (4,)).

    Args:
        data: a loaded Human3.6M (dataloader.reader).
        keys: SequenceKeys to use; cameras: camera indices; stride: every k-th frame.
        input_size, heatmap_size: (H, W) of the model input and output.
        augment: random rotation/scale/flip (training).
        targets: False leaves out heatmaps/weights (prediction: their encoding is a fifth of an item's cost).
        max_items: 0 = all; else a subset of this size, redrawn each epoch when augmenting
            (training) and fixed otherwise (validation).
    """

    def __init__(self, data, keys, cameras, stride: int, input_size, heatmap_size, *, sigma: float = 2.0,
                 margin: float = 1.25, augment: bool = False, rotation: float = 30.0, scale: float = 0.25,
                 flip_prob: float = 0.5, max_items: int = 0, seed: int = 0, targets: bool = True):
        self.data, self.keys = data, list(keys)
        self.input_size, self.heatmap_size = tuple(input_size), tuple(heatmap_size)
        self.sigma, self.margin, self.augment, self.targets = sigma, margin, augment, targets
        self.rotation, self.scale, self.flip_prob = rotation, scale, flip_prob
        self.all_items = frame_items(data, self.keys, cameras, stride)
        self.max_items, self.seed = max_items, seed
        self.to_heatmap_from_input = heatmap_affine(self.input_size, self.heatmap_size)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        n = len(self.all_items)
        if self.max_items and self.max_items < n:
            rng = np.random.default_rng((self.seed, epoch if self.augment else 0))
            self.items = self.all_items[np.sort(rng.choice(n, self.max_items, replace=False))]
        else:
            self.items = self.all_items

    def __len__(self) -> int:
        return len(self.items)

    def _augmentation(self, idx: int) -> tuple[float, float, bool]:
        if not self.augment:
            return 0.0, 1.0, False
        rng = np.random.default_rng((self.seed, self.epoch, idx))
        rotation = float(rng.uniform(-self.rotation, self.rotation)) if rng.random() < 0.6 else 0.0
        scale = float(rng.uniform(1 - self.scale, 1 + self.scale))
        return rotation, scale, bool(rng.random() < self.flip_prob)

    def __getitem__(self, idx: int) -> dict:
        k, cam, frame = (int(v) for v in self.items[idx])
        key = self.keys[k]
        camera = self.data.camera(key.subject, cam)
        keypoints = self.data.positions_2d[key.subject][key.sequence][cam][frame].astype(np.float64)  # (J, 2) px
        image = read_frame(self.data.frame_path(key, cam, frame))
        image_scale = np.diag([image.shape[1] / camera.res_w, image.shape[0] / camera.res_h])
        center, size = person_box(keypoints, self.margin)
        rotation, scale, flip = self._augmentation(idx)
        affine = crop_affine(center, size, self.input_size, rotation, flip, scale=scale)  # full px → input px
        to_image = np.concatenate([np.linalg.inv(image_scale), np.zeros((2, 1))], axis=1)  # image px → full px
        crop = warp_image(image, compose_affine(affine, to_image), self.input_size)
        to_heatmap = compose_affine(self.to_heatmap_from_input, affine)                    # full px → heatmap px
        target = apply_affine(keypoints, to_heatmap)
        if flip:
            target = target[list(FLIP_PERMUTATION)]
        item = {"image": normalise_image(crop)}
        if self.targets:
            item["heatmaps"], item["weights"] = encode_heatmaps(target, self.heatmap_size, self.sigma)
        return item | {
            "target_hm": torch.from_numpy(target.astype(np.float32)),
            "keypoints": torch.from_numpy(keypoints.astype(np.float32)),
            "to_heatmap": torch.from_numpy(to_heatmap.astype(np.float32)),
            "flipped": torch.tensor(flip),
            "box_size": torch.tensor(size / 1.0 / self.margin, dtype=torch.float32),
            "index": torch.tensor([subject_id(key.subject), k, cam, frame]),
        }
