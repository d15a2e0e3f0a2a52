"""FrameCropDataset: batches fetched whole (``__getitems__``) are the items stacked, the crops show the
joints where the targets say (under rotation, scale and flip), augmentation is a function of
(seed, epoch, item) alone, the crop is cut around the box of ``box_source`` (silhouette, keypoints or
detections) while PCK's ``box_size`` stays the ground-truth joint box, and frames stored downscaled are
cropped where their labels are.

The fixture frames are black with the 2D joints drawn as white dots (tests/fixtures.write_frames), so a
crop is right when its pixels at the target keypoints are bright; its person boxes are real-layout
``.mat`` masks (tests/fixtures.write_box_masks).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dataloader.crop_dataset import IMAGENET_MEAN, IMAGENET_STD, FrameCropDataset, normalise_images
from dataloader.loaders import make_loader
from dataloader.reader import DataError, load_human36m
from tests.fixtures import fixture_box, write_real_layout_fixture
from utils.codecs.crop import apply_affine, compose_affine, heatmap_affine, heatmap_to_input, invert_affine

INPUT, HEATMAP = (64, 48), (16, 12)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    fixture = write_real_layout_fixture(tmp_path_factory.mktemp("crops"), image_scale=0.128, detections=None,
                                        boxes=True)
    return load_human36m(fixture.root)


def crop_squares(batch, input_size=INPUT, heatmap_size=HEATMAP) -> tuple[np.ndarray, np.ndarray]:
    """Centres (B, 2) and sides (B,) in full-frame px of un-augmented crops, read back from `to_heatmap`:
    the input centre ((W − 1)/2, (H − 1)/2) through the inverse crop, and (min(H, W) − 1) / (crop px per px)."""
    to_input = compose_affine(invert_affine(heatmap_affine(input_size, heatmap_size)),
                              batch["to_heatmap"].double().numpy())                   # (B, 2, 3) full → input
    h, w = input_size
    centres = apply_affine(np.array([[(w - 1) / 2, (h - 1) / 2]]), invert_affine(to_input))[:, 0]
    per_px = np.sqrt(np.abs(np.linalg.det(to_input[:, :, :2])))
    return centres, (min(h, w) - 1) / per_px


def joint_boxes(keypoints: np.ndarray) -> np.ndarray:
    """(B, 4) x0, y0, x1, y1 of the (B, J, 2) joints."""
    return np.concatenate([keypoints.min(1), keypoints.max(1)], axis=1)


def dataset(data, **kwargs) -> FrameCropDataset:
    return FrameCropDataset(data, data.sequences(), [0, 1], 1, INPUT, HEATMAP, seed=3, **kwargs)


def test_a_fetched_batch_is_the_items_stacked(data):
    crops = dataset(data, augment=True)
    indices = [5, 0, 17, 9]
    batch = crops.__getitems__(indices)
    assert batch["image"].shape == (4, 3, *INPUT) and batch["image"].dtype == torch.uint8
    assert batch["heatmaps"].shape == (4, 17, *HEATMAP) and batch["index"].shape == (4, 4)
    for row, i in enumerate(indices):
        item = crops[i]
        assert item.keys() == batch.keys()
        for name, value in item.items():
            assert torch.equal(value, batch[name][row]), name


def test_the_crop_shows_the_joints_where_the_targets_are(data):
    crops = dataset(data, augment=True)
    batch = crops.__getitems__(list(range(len(crops))))
    assert 0.2 < batch["flipped"].float().mean() < 0.8       # both flipped and unflipped crops are checked
    brightness = batch["image"].float().mean(1)              # (B, H, W)
    points = heatmap_to_input(batch["target_hm"].double(), INPUT, HEATMAP).round().long()  # (B, J, 2) input px
    inside = ((points >= 0) & (points < torch.tensor([INPUT[1], INPUT[0]]))).all(-1)
    assert inside.float().mean() > 0.95
    x, y = points[..., 0].clamp(0, INPUT[1] - 1), points[..., 1].clamp(0, INPUT[0] - 1)
    at_joints = brightness[torch.arange(len(brightness))[:, None], y, x][inside]
    assert (at_joints > 100).float().mean() > 0.9, at_joints  # white dots under the targets …
    assert brightness.mean() < 20                             # … on a black frame


def test_targets_follow_the_flip_permutation(data):
    """Flipped crops swap left/right labels: mapped back through the inverse crop, every joint lands on its
    own ground truth (a missing permutation puts the left hip on the right hip, 10+ px away)."""
    from utils.stages.estimator import heatmap_to_full_frame

    crops = dataset(data, augment=True)
    batch = crops.__getitems__(list(range(len(crops))))
    back = heatmap_to_full_frame(batch["target_hm"], batch["to_heatmap"], batch["flipped"])
    assert torch.allclose(back, batch["keypoints"], atol=1e-2)


def test_augmentation_depends_on_seed_epoch_and_item_only(data):
    crops = dataset(data, augment=True)
    alone = crops[7]
    in_batch = crops.__getitems__([3, 7, 11])
    assert torch.equal(alone["image"], in_batch["image"][1]) and torch.equal(alone["to_heatmap"], in_batch["to_heatmap"][1])
    crops.set_epoch(1)
    next_epoch = torch.stack([crops[i]["to_heatmap"] for i in range(8)])
    crops.set_epoch(0)
    assert torch.equal(crops[7]["to_heatmap"], alone["to_heatmap"])
    assert not torch.equal(next_epoch, torch.stack([crops[i]["to_heatmap"] for i in range(8)]))
    plain = dataset(data)
    assert not plain[7]["flipped"] and torch.equal(plain.__getitems__([7])["to_heatmap"][0], plain[7]["to_heatmap"])


def test_the_loader_passes_fetched_batches_through(data):
    crops = dataset(data, augment=True, targets=False)
    loader = make_loader(crops, batch_size=8, shuffle=True, num_workers=0, seed=0)
    order = list(iter(loader.sampler))[:8]
    batch = next(iter(loader))
    assert "heatmaps" not in batch and batch["image"].shape == (8, 3, *INPUT)
    assert torch.equal(batch["index"], crops.__getitems__(order)["index"])


def test_normalise_images_is_imagenet_mean_std_and_refuses_floats():
    images = torch.randint(0, 256, (2, 3, 4, 5), dtype=torch.uint8)
    expected = (images.numpy().transpose(0, 2, 3, 1) / np.float32(255) - IMAGENET_MEAN) / IMAGENET_STD
    np.testing.assert_allclose(normalise_images(images).numpy(), expected.transpose(0, 3, 1, 2), atol=1e-6)
    with pytest.raises(TypeError, match="uint8"):
        normalise_images(images.float())


def test_decoded_to_input_places_a_reduced_decode_where_the_full_one_is():
    """A blob decoded at 1/4 (4 × 4 block means, as libjpeg's DCT scaling) and warped through
    `decoded_to_input` lands where the full-size warp puts it: the (r − 1)/2 pixel-centre offset is in
    (without it the crop shifts by 1.5 stored px, about 0.4 crop px here)."""
    import cv2

    from dataloader.crop_dataset import decoded_to_input
    from utils.codecs.crop import crop_affine

    ys, xs = np.mgrid[0:256, 0:256]
    stored = 255 * np.exp(-((xs - 101.3) ** 2 + (ys - 140.7) ** 2) / (2 * 14.0 ** 2))
    reduced = stored.reshape(64, 4, 64, 4).mean(axis=(1, 3))
    full_per_stored = np.array([2.0, 2.0])                       # a 512 px camera stored at 256 px
    affine = crop_affine([230.0, 270.0], 2 * 255.0, (64, 64), rotation=20.0)  # 1/8 crop px per full px

    def centroid(image):
        w = image / image.sum()
        return np.array([(w * np.arange(image.shape[1])).sum(), (w[:, None] * np.arange(image.shape[0])).sum()])

    crops = [cv2.warpAffine(image.astype(np.float32), decoded_to_input(affine, full_per_stored, r), (64, 64),
                            flags=cv2.INTER_LINEAR) for image, r in ((stored, 1), (reduced, 4))]
    assert np.abs(centroid(crops[1]) - centroid(crops[0])).max() < 0.05


def test_reduced_decode_is_used_only_where_the_crop_keeps_its_resolution(data, monkeypatch):
    """A 16 × 12 crop of these 128 px frames needs a fraction of their pixels: after each view's first
    (full-size) read, frames are decoded reduced, and the crops match the full-size ones."""
    import cv2

    from dataloader import crop_dataset

    flags = []
    imread = cv2.imread
    monkeypatch.setattr(crop_dataset.cv2, "imread", lambda path, flag: flags.append(flag) or imread(path, flag))
    small = dict(input_size=(16, 12), heatmap_size=(4, 3))
    reduced = FrameCropDataset(data, data.sequences(), [0, 1], 1, reduced_decode=True, **small)
    full = FrameCropDataset(data, data.sequences(), [0, 1], 1, **small)
    views = len({(k, c) for k, c, _ in reduced.items})                 # (sequence, camera) pairs
    batch = reduced.__getitems__(list(range(len(reduced))))
    assert flags.count(cv2.IMREAD_COLOR) == views and len(flags) == len(reduced) > views
    assert set(flags) - {cv2.IMREAD_COLOR} <= {cv2.IMREAD_REDUCED_COLOR_2, cv2.IMREAD_REDUCED_COLOR_4}
    flags.clear()
    reference = full.__getitems__(list(range(len(full))))
    assert set(flags) == {cv2.IMREAD_COLOR}
    difference = (batch["image"].float() - reference["image"].float()).abs().mean()
    assert difference < 0.25 * reference["image"].float().std(), difference
    for name in ("target_hm", "to_heatmap", "keypoints"):
        assert torch.equal(batch[name], reference[name]), name
    # the large crops of the other tests (64 × 48 of 128 px frames) always decode at full size
    flags.clear()
    dataset(data, reduced_decode=True).__getitems__(list(range(16)) * 2)
    assert set(flags) == {cv2.IMREAD_COLOR}


# --- the person box the crop is cut around (data.box_source) ------------------------------------------------

def _detections_file(data, path, shift=(15.0, -10.0), grow=1.3):
    """An npz of 'detector' boxes: each frame's joint box grown by `grow` and moved by `shift` px."""
    arrays = {}
    for key in data.sequences():
        for c in (0, 1):
            box = joint_boxes(data.positions_2d[key.subject][key.sequence][c].astype(np.float64))
            centre, half = (box[:, :2] + box[:, 2:]) / 2 + shift, grow * (box[:, 2:] - box[:, :2]) / 2
            arrays[f"{key.subject}/{key.sequence}/{('54138969', '55011271')[c]}"] = np.concatenate(
                [centre - half, centre + half], axis=1).astype(np.float32)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("box_source", ["silhouette", "keypoints", "detections"])
def test_the_crop_is_the_box_of_its_source_and_pck_keeps_the_joint_box(data, box_source, tmp_path):
    """Un-augmented crops are centred on the box of `box_source` with side 1.25 × its longer side; box_size
    (PCK's normaliser) is the ground-truth joints' longer side whatever the crop box."""
    from dataloader.h36m import get_camera

    detections = _detections_file(data, tmp_path / "boxes.npz") if box_source == "detections" else None
    crops = dataset(data, box_source=box_source, detections=detections)
    batch = crops.__getitems__(list(range(len(crops))))
    keypoints = batch["keypoints"].double().numpy()
    if box_source == "keypoints":
        expected = joint_boxes(keypoints)
    elif box_source == "silhouette":    # the fixture's mask: pixels first … last, each covering ± ½ px
        expected = np.stack([fixture_box(data.positions_2d[crops.keys[k].subject][crops.keys[k].sequence][c][f],
                                         get_camera(crops.keys[k].subject, c)) for k, c, f in crops.items])
        expected = expected + np.array([-0.5, -0.5, 0.5, 0.5])
    else:
        expected = np.stack([np.load(detections)[f"{crops.keys[k].subject}/{crops.keys[k].sequence}/"
                                                 f"{('54138969', '55011271')[c]}"][f] for k, c, f in crops.items])
    centres, sides = crop_squares(batch)
    np.testing.assert_allclose(centres, (expected[:, :2] + expected[:, 2:]) / 2, atol=1e-3)
    np.testing.assert_allclose(sides, 1.25 * (expected[:, 2:] - expected[:, :2]).max(1), rtol=1e-5)
    extent = (keypoints.max(1) - keypoints.min(1)).max(1)
    np.testing.assert_allclose(batch["box_size"].numpy(), extent, rtol=1e-5)


def test_silhouette_crops_are_not_cut_around_the_ground_truth_joints(tiny_root):
    """The default crop of the synthetic data comes from the rendered body's box, not from the answer: its
    centre is the silhouette box's centre, several pixels from the joints' box centre (the tight joint box
    placed a constant mean pose at 35 px / PCK@0.1 0.55 on the quick data)."""
    data = load_human36m(tiny_root, subjects=["S9"], actions=["Walking", "Sitting"])
    crops = FrameCropDataset(data, data.sequences(), [0, 1], 2, INPUT, HEATMAP)      # defaults: silhouette
    batch = crops.__getitems__(list(range(len(crops))))
    silhouette = np.stack([data.person_boxes(crops.keys[k], c)[f] for k, c, f in crops.items])
    centres, sides = crop_squares(batch)
    np.testing.assert_allclose(centres, (silhouette[:, :2] + silhouette[:, 2:]) / 2, atol=1e-3)
    joints = joint_boxes(batch["keypoints"].double().numpy())
    offset = np.linalg.norm(centres - (joints[:, :2] + joints[:, 2:]) / 2, axis=1)
    assert np.median(offset) > 2.0, offset                                            # full-frame px
    assert not np.allclose(sides, 1.25 * (joints[:, 2:] - joints[:, :2]).max(1), rtol=0.02)


def test_training_augments_around_the_chosen_box(data):
    """Augmented crops keep the targets on the joints with silhouette boxes: rotation, scale and flip act
    around the box as before."""
    from utils.stages.estimator import heatmap_to_full_frame

    crops = dataset(data, augment=True, box_source="silhouette")
    plain = dataset(data, box_source="silhouette")
    batch = crops.__getitems__(list(range(len(crops))))
    assert torch.allclose(heatmap_to_full_frame(batch["target_hm"], batch["to_heatmap"], batch["flipped"]),
                          batch["keypoints"], atol=1e-2)
    centres, _ = crop_squares(batch)
    unaugmented, _ = crop_squares(plain.__getitems__(list(range(len(plain)))))
    np.testing.assert_allclose(centres, unaugmented, atol=1e-3)     # rotation and scale about the box centre


def test_a_missing_box_file_is_one_line_naming_it_and_the_fix(tmp_path):
    fixture = write_real_layout_fixture(tmp_path / "root", subjects=("S9",), sequences=("Directions 1",), num_frames=2,
                                        frames=False, detections=None)
    data = load_human36m(fixture.root)
    with pytest.raises(DataError) as error:
        dataset(data)
    message = str(error.value)
    assert "\n" not in message and "S9/MySegmentsMat/ground_truth_bb/Directions 1.54138969.mat" in message
    assert "Segments" in message and "data.box_source=keypoints" in message
    assert len(dataset(data, box_source="keypoints")) == 2 * 2                      # 2 frames × 2 cameras


# --- frames stored downscaled -------------------------------------------------------------------------------

def test_downscaled_frames_are_cropped_where_their_labels_are(tmp_path):
    """A full-resolution frame with bright spots at known full-frame joints, stored at 1/8 through the extract
    path (INTER_AREA, JPEG) and cropped (augmented) by the dataset: each spot's centroid in the crop is where
    the crop's target says, to well under a crop pixel. With x_full = 8 x_stored (pixel centres off by
    (8 − 1)/2 = 3.5 full px, 2.5–3 crop px here) it is not."""
    import cv2

    from dataloader.frames import downscale_frame

    fixture = write_real_layout_fixture(tmp_path / "root", subjects=("S1",), sequences=("Directions 1",),
                                        num_frames=3, frames=False, detections=None)
    data = load_human36m(fixture.root)
    key, camera = data.sequences()[0], data.camera("S1", 0)                        # 1000 × 1002 px
    spots, sigma = [10, 13, 16], 5.0                          # head top, wrists; blob std in full-frame px
    xs, ys = np.arange(camera.res_w), np.arange(camera.res_h)
    for frame, joints in enumerate(data.positions_2d["S1"][key.sequence][0].astype(np.float64)):
        apart = np.linalg.norm(joints[spots][:, None] - joints[spots][None], axis=-1) + np.eye(len(spots)) * 1e9
        assert apart.min() > 10 * sigma                                            # the spots do not overlap
        full = sum(np.outer(np.exp(-(ys - y) ** 2 / (2 * sigma ** 2)), np.exp(-(xs - x) ** 2 / (2 * sigma ** 2)))
                   for x, y in joints[spots])
        stored = downscale_frame(np.repeat((250 * full)[..., None], 3, axis=2).astype(np.uint8), 0.125)
        path = data.frame_path(key, 0, frame)
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(path), stored, [cv2.IMWRITE_JPEG_QUALITY, 95])       # as extract writes them
    input_size, heatmap_size = (256, 256), (64, 64)
    crops = FrameCropDataset(data, [key], [0], 1, input_size, heatmap_size, augment=True, flip_prob=0.5, seed=1,
                             box_source="keypoints")
    batch = crops.__getitems__(list(range(len(crops))))
    to_input = compose_affine(invert_affine(heatmap_affine(input_size, heatmap_size)),
                              batch["to_heatmap"].double().numpy())
    targets = apply_affine(batch["keypoints"].double().numpy(), to_input)[:, spots]  # (B, 3, 2) crop px
    image = batch["image"].double().mean(1).numpy()                                  # (B, H, W)
    grid_y, grid_x = np.mgrid[0:input_size[0], 0:input_size[1]]
    errors = []
    for b, points in enumerate(targets):
        for x, y in points:
            near = (grid_x - x) ** 2 + (grid_y - y) ** 2 < 10.0 ** 2
            weight = np.where(near, np.clip(image[b] - 8.0, 0, None), 0.0)             # JPEG noise floor
            centroid = np.array([(weight * grid_x).sum(), (weight * grid_y).sum()]) / weight.sum()
            errors.append(np.linalg.norm(centroid - (x, y)))
    assert max(errors) < 0.3, errors                                                 # crop px
