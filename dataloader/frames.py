"""Extract frame images from the original Human3.6M videos into a data root.

Reads ``<raw_root>/<S>/Videos/<Action>[ n].<camera>.mp4`` (human36m.md §5) with OpenCV and writes
JPEGs under the frame template of the data root, 1-based (array row i ↔ image i + 1), with the
canonical sequence name (S1's ``TakingPhoto 1`` → ``Photo 1``). A video is cut at the number of
3D poses of its sequence when ``data_3d_h36m.npz`` is already in the data root (the video is a
few frames longer; human36m.md §4). S11 ``Directions`` is skipped for every camera: its camera
54138969 video is corrupt and VideoPose3D drops the sequence.
"""
from __future__ import annotations

import logging
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from dataloader.h36m import CAMERA_IDS, SUBJECTS, canonical_sequence
from dataloader.reader import BROKEN_SEQUENCES, DEFAULT_FRAME_TEMPLATE, FILE_3D, DataError, pose_counts

logger = logging.getLogger(__name__)

VIDEO_NAME = re.compile(r"^(?P<sequence>.+)\.(?P<camera>\d+)\.mp4$")
JPEG_QUALITY = 95


def downscale_frame(image: np.ndarray, image_scale: float) -> np.ndarray:
    """(H, W, C) → (round(H·s), round(W·s), C) with area interpolation (each output pixel the mean of the
    input pixels it covers), as ``extract`` stores frames: pixel centres then sit at x_full + ½ =
    (x_stored + ½) · W / W_stored, the convention the crops use (``utils.codecs.crop.stored_to_full``)."""
    if image_scale == 1.0:
        return image
    size = (max(1, round(image.shape[1] * image_scale)), max(1, round(image.shape[0] * image_scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def extract_frames(video_path, out_pattern: str | Callable[[int], Path], *, max_frames: int | None = None,
                   image_scale: float = 1.0, jpeg_quality: int = JPEG_QUALITY) -> int:
    """Decode a video and write its frames as JPEG files.

    Args:
        video_path: the video (anything cv2.VideoCapture opens).
        out_pattern: output path per frame: a format string with a ``{frame}`` field (e.g.
            'out/{frame:06d}.jpg') or a function frame → Path; frames are numbered from 1.
        max_frames: stop after this many frames (None: the whole video).
        image_scale: resize factor (e.g. 0.5 halves width and height; area interpolation, ``downscale_frame``).
        jpeg_quality: JPEG quality 0–100.

    Returns:
        The number of frames written.
    """
    video_path = Path(video_path)
    path_of = (lambda n: Path(out_pattern.format(frame=n))) if isinstance(out_pattern, str) else out_pattern
    if not video_path.is_file():
        raise DataError(f"video {video_path} does not exist; extract the Human3.6M 'Videos' archives (see README)")
    capture = cv2.VideoCapture(str(video_path))
    if not capture.isOpened():
        raise DataError(f"OpenCV cannot open {video_path}; check the file (re-download it) "
                        f"and the OpenCV video backend")
    written = 0
    try:
        while max_frames is None or written < max_frames:
            ok, image = capture.read()  # (H, W, 3) uint8 BGR
            if not ok:
                break
            image = downscale_frame(image, image_scale)
            path = path_of(written + 1)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
                raise DataError(f"cannot write {path}; check the folder is writable and the disk has space")
            written += 1
    finally:
        capture.release()
    return written


@dataclass(frozen=True)
class _Job:
    video: Path
    subject: str
    sequence: str
    camera: int
    max_frames: int | None
    poses: int | None


def _frame_pattern(data_root: Path, template: str, subject: str, sequence: str, camera: int):
    return lambda frame: data_root / template.format(subject=subject, sequence=sequence, camera=CAMERA_IDS[camera],
                                                     camera_index=camera, frame=frame)


def _run_job(job: _Job, data_root: Path, template: str, image_scale: float) -> int:
    n = extract_frames(job.video, _frame_pattern(data_root, template, job.subject, job.sequence, job.camera),
                       max_frames=job.max_frames, image_scale=image_scale)
    if job.poses is not None and n < job.poses:
        logger.warning("%s has %d frames but %s %r has %d poses: the last %d poses have no image",
                       job.video, n, job.subject, job.sequence, job.poses, job.poses - n)
    return n


def _jobs(raw_root: Path, subjects, counts: dict, max_frames: int | None, skipped: list[str]) -> list[_Job]:
    jobs = []
    for subject in subjects:
        video_dir = raw_root / subject / "Videos"
        if not video_dir.is_dir():
            raise DataError(f"no videos for {subject}: {video_dir} does not exist; extract the Human3.6M 'Videos' "
                            f"archive of {subject} into {raw_root / subject} or leave {subject} out of --subjects")
        for video in sorted(video_dir.glob("*.mp4")):
            match = VIDEO_NAME.match(video.name)
            if match is None or match["camera"] not in CAMERA_IDS or "_ALL" in video.name:
                skipped.append(f"{video}: not a <Action>[ n].<camera>.mp4 video of the 15 actions")
                continue
            try:
                sequence = canonical_sequence(match["sequence"])
            except KeyError:
                skipped.append(f"{video}: unknown action {match['sequence']!r}")
                continue
            if (subject, sequence) in BROKEN_SEQUENCES:
                skipped.append(f"{video}: {subject} {sequence!r} is skipped, {BROKEN_SEQUENCES[subject, sequence]}")
                continue
            poses = counts.get(subject, {}).get(sequence)
            limits = [n for n in (poses, max_frames) if n is not None]
            jobs.append(_Job(video, subject, sequence, CAMERA_IDS.index(match["camera"]),
                             min(limits) if limits else None, poses))
    return jobs


def extract_all(raw_root, data_root, frame_template: str = DEFAULT_FRAME_TEMPLATE, *, subjects=SUBJECTS,
                max_frames: int | None = None, image_scale: float = 1.0, workers: int = 1) -> dict:
    """Extract the frames of every video of `subjects` from a raw Human3.6M tree into a data root.

    Args:
        raw_root: folder holding ``<S>/Videos/<Action>[ n].<camera>.mp4``.
        data_root: the data root; frames go to ``data_root / frame_template``; if it holds
            ``data_3d_h36m.npz``, each video stops at the number of poses of its sequence.
        frame_template: frame path under data_root (fields subject, sequence, camera,
            camera_index, frame; frame is 1-based).
        subjects: subjects to extract.
        max_frames: extract at most this many frames per video (a quick look; None: all).
        image_scale: resize factor of the written images (2D coordinates stay in full-resolution pixels).
        workers: processes decoding videos in parallel.

    Returns:
        {'videos': videos extracted, 'frames': images written, 'skipped': [one line per skipped video]}.
    """
    raw_root, data_root = Path(raw_root).expanduser(), Path(data_root).expanduser()
    if not raw_root.is_dir():
        raise DataError(f"raw Human3.6M folder {raw_root} does not exist; pass --raw DIR holding <S>/Videos/*.mp4")
    data_root.mkdir(parents=True, exist_ok=True)
    counts = pose_counts(data_root) if (data_root / FILE_3D).is_file() else {}
    if not counts:
        logger.warning("no %s in %s: videos are extracted to their end, not cut at the number of poses",
                       FILE_3D, data_root)
    skipped: list[str] = []
    jobs = _jobs(raw_root, subjects, counts, max_frames, skipped)
    for line in skipped:
        logger.warning("skipped %s", line)
    args = ([data_root] * len(jobs), [frame_template] * len(jobs), [image_scale] * len(jobs))
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            frames = list(pool.map(_run_job, jobs, *args))
    else:
        frames = list(map(_run_job, jobs, *args))
    for job, n in zip(jobs, frames):
        logger.info("%s → %s %r camera %s: %d frames", job.video.name, job.subject, job.sequence,
                    CAMERA_IDS[job.camera], n)
    return {"videos": len(jobs), "frames": int(sum(frames)), "skipped": skipped}
