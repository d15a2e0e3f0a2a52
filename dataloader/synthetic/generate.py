"""Write a synthetic Human3.6M root in the real layout (``make data``).

    python -m dataloader.synthetic.generate --out data/synthetic [--profile quick|full|tiny]
        [--seed 0] [--workers 2] [--subjects S1 S9] [--actions Walking Phoning]
        [--num-frames 120] [--image-scale 0.128] [--force]

The root gets ``data_3d_h36m.npz`` (``positions_3d``: subject → sequence → (N, 32, 3) float32
world metres), ``data_2d_h36m_gt.npz`` (``positions_2d``: subject → sequence → 4 × (N, 17, 2)
float32 pixels, projected through the real cameras with distortion; ``metadata``), JPEG frames
under ``FRAME_TEMPLATE`` (1-based; some videos have 0–8 extra trailing frames, as real videos
do), the person box of every video frame under ``BOX_TEMPLATE`` (where the real Human3.6M keeps
its ``ground_truth_bb`` files; float32 (V, 4) x0, y0, x1, y1 full-frame px, the bounding box of the
rendered body), ``synthetic.json`` (every setting, frame counts per video, the box files) and
``README.md``.
Sequence names are the VideoPose3D ones (human36m.md §1); S11 has no second ``Directions``.

Everything is a function of the seed: each (subject, sequence) draws from its own Generator, so
the npz files are byte-identical for a seed whatever the number of workers.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import multiprocessing
import pickle
import shutil
import time
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from dataloader.camera import project_to_pixels, world_to_camera
from dataloader.h36m import (ACTIONS, CAMERA_IDS, JOINTS_LEFT, JOINTS_RIGHT, NUM_JOINTS, SUBJECTS,
                             cameras_of, select_17, subject_id)
from dataloader.synthetic import motion as motion_lib
from dataloader.synthetic import render
from dataloader.synthetic import skeleton
from utils.engine.files import atomic_open

logger = logging.getLogger(__name__)

VERSION = 2
FRAME_TEMPLATE = "{subject}/frames/{sequence}.{camera}/{frame:06d}.jpg"
# the real layout's person boxes (dataloader.reader.BOX_FOLDER), as .npy instead of MATLAB masks
BOX_TEMPLATE = "{subject}/MySegmentsMat/ground_truth_bb/{sequence}.{camera}.npy"
FPS = 50
_MARKER = "synthetic.json"
_IN_PROGRESS = ".synthetic-in-progress"

# Suffixes of sub-actions 1 / 2 in the file names, per subject (human36m.md §1; '' = no suffix).
_SUFFIX_SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
_SUFFIXES = {
    "Directions":   ("1/", "1/2", "1/", "1/", "1/", "1/", "1/"),
    "Discussion":   ("1/", "2/3", "1/", "1/", "1/", "1/2", "1/2"),
    "Eating":       ("2/", "1/", "1/2", "1/", "1/", "1/", "1/"),
    "Greeting":     ("1/", "1/2", "1/", "1/", "1/", "1/", "2/"),
    "Phoning":      ("1/", "1/", "1/", "2/", "1/", "1/", "3/2"),
    "Posing":       ("1/", "1/", "2/", "1/", "1/", "1/", "1/"),
    "Purchases":    ("1/", "1/", "1/", "1/", "1/", "1/", "1/"),
    "Sitting":      ("1/2", "1/", "1/2", "1/", "1/", "1/", "1/"),
    "SittingDown":  ("2/", "/1", "1/", "/1", "/1", "/1", "/1"),
    "Smoking":      ("1/", "1/", "1/", "1/", "1/", "1/", "2/"),
    "Photo":        ("1/", "/2", "/1", "/1", "1/", "1/", "1/"),
    "Waiting":      ("1/", "1/2", "3/", "1/2", "1/", "1/", "1/"),
    "Walking":      ("1/", "1/", "1/", "1/2", "1/", "1/", "1/"),
    "WalkDog":      ("1/", "1/", "1/", "1/", "1/", "1/", "1/"),
    "WalkTogether": ("1/", "1/", "1/", "1/", "1/2", "1/", "1/"),
}


def sequence_names(subject: str, action: str) -> list[str]:
    """VideoPose3D sequence keys of ``action`` for ``subject``, sub-action 1 first.

    >>> sequence_names("S1", "Directions"), sequence_names("S11", "Directions")
    (['Directions 1', 'Directions'], ['Directions 1'])
    """
    if subject not in _SUFFIX_SUBJECTS:
        raise KeyError(f"no sequence table for subject {subject!r}; valid: {', '.join(_SUFFIX_SUBJECTS)}")
    if action not in _SUFFIXES:
        raise KeyError(f"unknown action {action!r}; valid: {', '.join(ACTIONS)}")
    suffixes = _SUFFIXES[action][_SUFFIX_SUBJECTS.index(subject)].split("/")
    names = [f"{action} {suffix}" if suffix else action for suffix in suffixes]
    if subject == "S11" and action == "Directions":
        names = names[:1]  # the second S11 Directions video is broken; VideoPose3D drops it
    return names


@dataclass(frozen=True)
class Settings:
    """Everything that determines a synthetic root (written to ``synthetic.json``)."""
    profile: str
    seed: int
    subjects: tuple[str, ...]
    actions: tuple[str, ...]
    num_frames: tuple[int, int]             # pose frames per sequence, drawn in [min, max]
    image_scale: float                      # frame size / camera resolution
    fps: int = FPS
    jpeg_quality: int = 90
    extra_frames: tuple[tuple[int, int], ...] = ((0, 2), (2, 8), (2, 8), (0, 2))  # video − pose frames per camera
    occluder_probability: float = 0.3
    frame_template: str = FRAME_TEMPLATE
    version: int = VERSION


PROFILES = {
    # `make data` / `make demo`: all sequences, short, small frames (256 px: a person ~120 px tall, so the Hourglass's
    # 128×128 crops see the forearms ~5 px wide; at 128 px frames its error was 18.3 against 13.1 px at epoch 16)
    "quick": Settings(profile="quick", seed=0, subjects=SUBJECTS, actions=ACTIONS, num_frames=(32, 48),
                      image_scale=0.256),
    # longer sequences at the full camera resolution (~0.6 M frames, ~70 GB, about an hour on 2
    # cores; not run in CI)
    "full": Settings(profile="full", seed=0, subjects=SUBJECTS, actions=ACTIONS, num_frames=(400, 1000),
                     image_scale=1.0),
    # tests: seconds
    "tiny": Settings(profile="tiny", seed=0, subjects=("S1", "S9"),
                     actions=("Directions", "Phoning", "Sitting", "Walking"), num_frames=(24, 24),
                     image_scale=0.064),
}


def _resolve(profile: str, seed: int, subjects, actions, num_frames, image_scale) -> Settings:
    if profile not in PROFILES:
        raise KeyError(f"unknown synthetic profile {profile!r}; valid: {', '.join(PROFILES)}")
    settings = replace(PROFILES[profile], seed=int(seed))
    if subjects is not None:
        unknown = [s for s in subjects if s not in SUBJECTS]
        if unknown:
            raise KeyError(f"unknown subjects {unknown}; valid: {', '.join(SUBJECTS)}")
        settings = replace(settings, subjects=tuple(s for s in SUBJECTS if s in subjects))
    if actions is not None:
        unknown = [a for a in actions if a not in ACTIONS]
        if unknown:
            raise KeyError(f"unknown actions {unknown}; valid: {', '.join(ACTIONS)}")
        settings = replace(settings, actions=tuple(a for a in ACTIONS if a in actions))
    if num_frames is not None:
        low, high = (num_frames, num_frames) if np.isscalar(num_frames) else tuple(num_frames)
        if not 2 <= int(low) <= int(high):
            raise ValueError(f"num_frames must be an int >= 2 or a (min, max) pair, got {num_frames!r}")
        settings = replace(settings, num_frames=(int(low), int(high)))
    if image_scale is not None:
        if not 0.01 <= float(image_scale) <= 1.0:
            raise ValueError(f"image_scale must be in [0.01, 1], got {image_scale!r}")
        settings = replace(settings, image_scale=float(image_scale))
    return settings


def _settings_json(settings: Settings) -> dict:
    return json.loads(json.dumps(asdict(settings)))  # tuples → lists, as read back from disk


# --- one sequence ------------------------------------------------------------------------------

# Independent random streams of one sequence (the last entropy word).
_MOTION, _LENGTH, _ROOM, _CAMERA, _STYLE = 0, 1, 2, 3, 10  # _CAMERA + camera index: 3–6


def _rng(settings: Settings, subject: str, action: str, sub_action: int, stream: int) -> np.random.Generator:
    """The Generator of one stream of one sequence: a pure function of its arguments."""
    return np.random.default_rng([settings.seed, subject_id(subject), ACTIONS.index(action), sub_action, stream])


def _inside(pixels: np.ndarray, depth: np.ndarray, camera, margin: float = 0.02) -> bool:
    """All joints in front of the camera and inside the image with a margin (fraction of size)."""
    x, y = pixels[..., 0], pixels[..., 1]
    mx, my = margin * camera.res_w, margin * camera.res_h
    return bool((depth > 0.5).all() and (x > mx).all() and (x < camera.res_w - mx).all()
                and (y > my).all() and (y < camera.res_h - my).all())


def _make_sequence(settings: Settings, subject: str, action: str, sub_action: int):
    """Motion of one sequence, kept inside all four images (the area shrinks if needed).

    Returns (num_frames N, animation with N + max extra frames, extra frames per camera)."""
    length_rng = _rng(settings, subject, action, sub_action, _LENGTH)
    num_frames = int(length_rng.integers(settings.num_frames[0], settings.num_frames[1] + 1))
    extras = [int(length_rng.integers(low, high + 1)) for low, high in settings.extra_frames]
    total = num_frames + max(high for _, high in settings.extra_frames)
    body = skeleton.body_of(subject)
    cameras = cameras_of(subject)
    for area in (1.0, 0.75, 0.5, 0.25, 0.0):
        motion = motion_lib.make_motion(action, _rng(settings, subject, action, sub_action, _MOTION), total,
                                        body, FPS, area)
        animation = motion_lib.animate(motion, body)
        views = [world_to_camera(animation.positions, camera) for camera in cameras]
        if all(_inside(project_to_pixels(v, c), v[..., 2], c) for v, c in zip(views, cameras)):
            return num_frames, animation, extras
    raise RuntimeError(f"synthetic {subject} {action} {sub_action} leaves the camera views even at the "
                       f"capture centre; this is a bug in dataloader/synthetic/motion.py")


def _render_sequence(task: tuple) -> tuple:
    """Worker: animate one sequence, write its frames and person boxes; returns its arrays and frame counts."""
    out_dir, settings, subject, action, sub_action, sequence = task
    cv2.setNumThreads(1)
    num_frames, animation, extras = _make_sequence(settings, subject, action, sub_action)
    positions = animation.positions.astype(np.float32)                  # (N + extra, 32, 3)
    body = skeleton.body_of(subject)
    # clothes and room belong to the sequence: with one outfit per subject a 2D estimator sees five
    # outfits in training and learns them, not the body (measured: 28 px test vs 15 px training error
    # after 15 epochs of ViTPose tiny; 24 px test with an outfit per sequence)
    style = render.make_style(_rng(settings, subject, action, sub_action, _STYLE))
    room = render.make_room(_rng(settings, subject, action, sub_action, _ROOM))

    positions_2d, video_frames = [], []
    for camera, extra in zip(cameras_of(subject), extras):
        rng = _rng(settings, subject, action, sub_action, _CAMERA + camera.index)
        # the 2D ground truth: the stored float32 3D through the real camera, as VideoPose3D does
        joints = select_17(positions[:num_frames]).astype(np.float64)
        pixels = project_to_pixels(world_to_camera(joints, camera), camera)
        positions_2d.append(pixels.astype(np.float32))
        width = max(1, round(camera.res_w * settings.image_scale))
        height = max(1, round(camera.res_h * settings.image_scale))
        background = render.make_background(rng, camera, width, height, room)
        video_length = num_frames + extra
        renderer = render.VideoRenderer(animation.positions[:video_length], camera, body, style, background,
                                        animation.chair)
        renderer.occluder = render.make_occluder(rng, renderer.pixels, video_length, settings.occluder_probability)
        folder = out_dir / Path(settings.frame_template.format(subject=subject, sequence=sequence,
                                                               camera=camera.id, frame=1)).parent
        folder.mkdir(parents=True, exist_ok=True)
        params = [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality]
        boxes = np.empty((video_length, 4), np.float32)                  # x0, y0, x1, y1 full-frame px
        for frame in range(video_length):
            path = out_dir / settings.frame_template.format(subject=subject, sequence=sequence,
                                                            camera=camera.id, frame=frame + 1)
            if not cv2.imwrite(str(path), renderer.render(frame), params):
                raise OSError(f"could not write frame {path}")
            boxes[frame] = renderer.silhouette_box(frame)
        box_path = out_dir / BOX_TEMPLATE.format(subject=subject, sequence=sequence, camera=camera.id)
        box_path.parent.mkdir(parents=True, exist_ok=True)
        np.save(box_path, boxes, allow_pickle=False)
        video_frames.append(video_length)
    return subject, sequence, positions[:num_frames], positions_2d, video_frames


# --- writing -----------------------------------------------------------------------------------

def save_npz(path: Path, **arrays) -> None:
    """np.savez_compressed, but byte-identical for identical content (fixed zip timestamps) and
    atomic (temporary file, then rename).

    Objects (the dicts of the real layout) are pickled as VideoPose3D's files are, byte for byte what
    ``np.savez`` writes (npy header 1.0, pickle protocol 4): the layout needs it. Nothing in the framework
    unpickles them freely: ``dataloader.reader.read_npz_object`` accepts containers of numpy arrays only."""
    with atomic_open(path, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            buffer, array = io.BytesIO(), np.asanyarray(value)
            if array.dtype.hasobject:
                np.lib.format.write_array_header_1_0(buffer, np.lib.format.header_data_from_array_1_0(array))
                pickle.dump(array, buffer, protocol=4)
            else:
                np.lib.format.write_array(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def _object(value) -> np.ndarray:
    """A 0-d object array holding ``value``, as np.savez stores a dict."""
    array = np.empty((), dtype=object)
    array[()] = value
    return array


def is_current(out_dir: Path, profile: str = "quick", seed: int = 0) -> bool:
    """Whether `out_dir` already holds the root this generator writes for `profile` and `seed` (same
    settings and version, box files present); `study.py` regenerates the data when it does not."""
    marker = Path(out_dir) / _MARKER
    if not marker.is_file():
        return False
    previous = json.loads(marker.read_text())
    return previous.get("settings") == _settings_json(replace(PROFILES[profile], seed=int(seed))) and "person_boxes" in previous


def _prepare(out_dir: Path, settings: Settings, force: bool) -> bool:
    """Check the output folder; False if it already holds this exact root (nothing to do)."""
    marker = out_dir / _MARKER
    if marker.exists() and not force:
        previous = json.loads(marker.read_text())
        if previous.get("settings") == _settings_json(settings) and "person_boxes" in previous:
            return False  # (a root written before the box files existed is rewritten)
    ours = marker.exists() or (out_dir / _IN_PROGRESS).exists()
    if out_dir.exists() and any(out_dir.iterdir()) and not ours:
        raise FileExistsError(f"{out_dir} is not empty and holds no {_MARKER} (maybe real Human3.6M data); "
                              f"choose another --out or empty it")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / _IN_PROGRESS).touch()
    marker.unlink(missing_ok=True)
    for subject in SUBJECTS:  # frames and boxes of an earlier synthetic root; sizes and lengths may differ
        shutil.rmtree(out_dir / subject / "frames", ignore_errors=True)
        shutil.rmtree(out_dir / subject / "MySegmentsMat", ignore_errors=True)
    return True


def generate(out_dir, profile: str = "tiny", seed: int = 0, subjects=None, actions=None, num_frames=None,
             image_scale=None, workers: int = 1, force: bool = False) -> Path:
    """Write a synthetic Human3.6M root and return its path.

    Args:
        out_dir: the root folder (created; refused if it holds anything but a synthetic root).
        profile: 'tiny' (tests: S1 + S9, 4 actions, 24 frames, 64 px), 'quick' (``make data``:
            all 209 sequences, 32–48 frames, 128 px) or 'full' (400–1000 frames, full size).
        seed: same seed and settings → byte-identical npz files.
        subjects, actions: subsets of ``dataloader.h36m.SUBJECTS`` / ``ACTIONS`` (default: the profile's).
        num_frames: pose frames per sequence, an int or a (min, max) range (default: the profile's).
        image_scale: frame size / camera resolution (default: the profile's).
        workers: processes rendering in parallel.
        force: rewrite even when the root already holds these exact settings.
    """
    out_dir = Path(out_dir)
    settings = _resolve(profile, seed, subjects, actions, num_frames, image_scale)
    if not _prepare(out_dir, settings, force):
        logger.info("%s already holds a synthetic root with these settings; nothing to do", out_dir)
        return out_dir
    tasks = [(out_dir, settings, subject, action, sub_action, sequence)
             for subject in settings.subjects for action in settings.actions
             for sub_action, sequence in enumerate(sequence_names(subject, action), start=1)]
    logger.info("writing %d synthetic sequences × %d cameras to %s (profile %s, %d workers)",
                len(tasks), len(CAMERA_IDS), out_dir, settings.profile, workers)
    start = time.perf_counter()
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = list(pool.imap_unordered(_render_sequence, tasks))
    else:
        results = [_render_sequence(task) for task in tasks]
    by_key = {(subject, sequence): (p3, p2, frames) for subject, sequence, p3, p2, frames in results}

    positions_3d, positions_2d, counts = {}, {}, {}
    for _, _, subject, _, _, sequence in tasks:  # table order, independent of worker timing
        p3, p2, frames = by_key[(subject, sequence)]
        # fresh arrays with the canonical dtype object: arrays unpickled from workers carry their
        # own dtype instances, which would change the pickle bytes (no memo hits)
        positions_3d.setdefault(subject, {})[sequence] = p3.astype(np.float32, copy=True)
        positions_2d.setdefault(subject, {})[sequence] = [a.astype(np.float32, copy=True) for a in p2]
        counts.setdefault(subject, {})[sequence] = {"pose_frames": int(len(p3)), "video_frames": frames}
    metadata = {"num_joints": NUM_JOINTS, "keypoints_symmetry": [list(JOINTS_LEFT), list(JOINTS_RIGHT)]}
    save_npz(out_dir / "data_3d_h36m.npz", positions_3d=_object(positions_3d))
    save_npz(out_dir / "data_2d_h36m_gt.npz", positions_2d=_object(positions_2d), metadata=_object(metadata))
    shutil.copyfile(Path(__file__).with_name("README.md"), out_dir / "README.md")
    image_sizes = {camera.id: [max(1, round(camera.res_w * settings.image_scale)),
                               max(1, round(camera.res_h * settings.image_scale))] for camera in cameras_of("S1")}
    summary = {"generator": "dataloader.synthetic", "version": VERSION, "settings": _settings_json(settings),
               "frame_template": settings.frame_template, "image_sizes": image_sizes, "sequences": counts,
               "person_boxes": {"template": BOX_TEMPLATE, "frames": "every video frame",
                                "format": "float32 (V, 4) x0, y0, x1, y1, full-frame pixels",
                                "from": "the bounding box of the rendered body (no chair, no occluder)"}}
    (out_dir / _MARKER).write_text(json.dumps(summary, indent=1))
    (out_dir / _IN_PROGRESS).unlink()
    logger.info("synthetic root written in %.1f s: %s", time.perf_counter() - start, out_dir)
    return out_dir


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic Human3.6M root in the real layout.")
    parser.add_argument("--out", required=True, metavar="DIR", help="root folder to write (e.g. data/synthetic)")
    parser.add_argument("--profile", default="quick", choices=sorted(PROFILES), help="size preset (default quick)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=2, help="rendering processes (default 2)")
    parser.add_argument("--subjects", nargs="+", metavar="S", help=f"subset of {' '.join(SUBJECTS)}")
    parser.add_argument("--actions", nargs="+", metavar="A", help="subset of the 15 canonical actions")
    parser.add_argument("--num-frames", type=int, nargs="+", metavar="N",
                        help="pose frames per sequence: N or MIN MAX (default: the profile's)")
    parser.add_argument("--image-scale", type=float, help="frame size / camera resolution (default: the profile's)")
    parser.add_argument("--force", action="store_true", help="rewrite even if the root is up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.num_frames is not None and len(args.num_frames) > 2:
        raise SystemExit(f"--num-frames takes N or MIN MAX, got {args.num_frames}")
    num_frames = None if args.num_frames is None else (args.num_frames * 2)[:2]
    try:
        generate(args.out, profile=args.profile, seed=args.seed, subjects=args.subjects, actions=args.actions,
                 num_frames=num_frames, image_scale=args.image_scale, workers=args.workers, force=args.force)
    except (KeyError, ValueError, FileExistsError) as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
