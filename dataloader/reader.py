"""Read a Human3.6M data root in the real layout: VideoPose3D npz files plus extracted frames.

Layout (``facebookresearch/VideoPose3D: DATASETS.md``, ``data/prepare_data_h36m.py``):

    ROOT/data_3d_h36m.npz          positions_3d: subject → sequence → (N, 32, 3) world metres
    ROOT/data_2d_h36m_gt.npz       positions_2d: subject → sequence → 4 × (N2, 17, 2) pixels; metadata
    ROOT/data_2d_h36m_<name>.npz   detections in the same layout (one array per video)
    ROOT/<frame template>          default S1/frames/Photo 1.54138969/000001.jpg (frame 1-based)
    ROOT/<S>/MySegmentsMat/ground_truth_bb/<sequence>.<camera>.mat | .npy
                                   person boxes per video frame (``Human36M.person_boxes``): the real
                                   MATLAB v7.3 files of the Human3.6M "Segments" download (a cell
                                   ``Masks`` of per-frame box masks), or float (V, 4) x0, y0, x1, y1
                                   full-frame px as the synthetic generator writes them

The reader copes with the quirks of real roots and records what it did: sequence names are
canonicalised (``TakingPhoto 1`` → ``Photo 1``, ``Sitting_2`` → ``Sitting 2``) while frame folders
resolve to whichever spelling is on disk; 2D and 3D are trimmed to the shorter length; S11
``Directions`` (corrupt video, dropped by VideoPose3D) is skipped; detection cameras that are None
and subjects without public 3D (S2, S3, S4) are skipped. Handled quirks go to ``notes``, data
that disagrees with itself to ``inconsistencies``. Errors are :class:`DataError`, one line naming
the file or key and the fix. Frames are only located here; the datasets read them.
"""
from __future__ import annotations

import logging
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dataloader.h36m import (ACTION_ALIASES, ACTIONS, CAMERA_IDS, JOINTS_LEFT, JOINTS_RIGHT, NUM_CAMERAS,
                             NUM_JOINTS, NUM_JOINTS_RAW, SUBJECTS, Camera, canonical_action, canonical_sequence,
                             get_camera, subject_id)

logger = logging.getLogger(__name__)

DEFAULT_FRAME_TEMPLATE = "{subject}/frames/{sequence}.{camera}/{frame:06d}.jpg"
TEMPLATE_FIELDS = ("subject", "sequence", "camera", "camera_index", "frame")
FILE_3D = "data_3d_h36m.npz"
GROUND_TRUTH = "gt"
DETECTIONS_LAYOUT = "h36m"
# A 2D array more than this fraction shorter than the 3D is called out (VideoPose3D would crash).
MUCH_SHORTER = 0.10
# Sequences dropped everywhere, with the reason (human36m.md §4).
BROKEN_SEQUENCES = {
    ("S11", "Directions"): "its video S11/Videos/Directions.54138969.mp4 is corrupt and VideoPose3D drops "
                           "it for all cameras",
}
_FIX_FILES = ("write it with VideoPose3D's data/prepare_data_h36m.py (see README), "
              "or run `make data` for the synthetic default")
# Person boxes (data.box_source=silhouette): the layout of the official Human3.6M "Segments" files.
BOX_FOLDER = "{subject}/MySegmentsMat/ground_truth_bb"
BOX_SUFFIXES = (".mat", ".npy")                 # real MATLAB v7.3 masks; the synthetic generator's arrays
_FIX_BOXES = ("download the Human3.6M 'Segments' archives (MySegmentsMat/ground_truth_bb) into the data root, "
              "regenerate the synthetic default (make data), or set data.box_source=keypoints")
_FIX_DETECTIONS = ("write one float (N, 4) x0, y0, x1, y1 array per '<subject>/<sequence>/<camera id>' key "
                   "(see README), or set data.box_source=silhouette")


class DataError(ValueError):
    """A data root, file or request that cannot be used; the message names it and the fix."""


def file_2d(name: str = GROUND_TRUTH) -> str:
    """File name of a 2D file: 'gt' → data_2d_h36m_gt.npz, 'cpn_ft_h36m_dbb' → data_2d_h36m_cpn_ft_h36m_dbb.npz."""
    return f"data_2d_h36m_{name}.npz"


@dataclass(frozen=True)
class SequenceKey:
    """One sequence of one subject; ``sequence`` is the canonical name, e.g. 'Photo 1'."""
    subject: str
    sequence: str

    @property
    def action(self) -> str:
        """Canonical action key, e.g. 'Photo' (the sequence name without its suffix)."""
        return canonical_action(self.sequence)


def _as_key(key: SequenceKey | tuple) -> SequenceKey:
    return key if isinstance(key, SequenceKey) else SequenceKey(key[0], key[1])


def _sort_key(key: SequenceKey) -> tuple[int, str]:
    return subject_id(key.subject), key.sequence


@dataclass(frozen=True)
class FrameCheck:
    """Result of a scan for frame images: how many were looked for, how many are missing, the first few."""
    checked: int
    missing: int
    first_missing: tuple[Path, ...]
    stride: int


@dataclass(eq=False)
class Human36M:
    """A loaded data root.

    Attributes:
        root: the data root.
        frame_template: frame image path under root, with fields subject, sequence (the on-disk
            spelling), camera (id string), camera_index (0–3) and frame (1-based).
        positions_3d: subject → canonical sequence → (N, 32, 3) float32 world metres.
        positions_2d: subject → canonical sequence → list of 4 (N, 17, 2) float32 pixel arrays in
            camera order (``CAMERA_IDS``); an entry is None where a detections file has no camera.
            Trimmed to the 3D length N.
        source_2d: 'gt' or the detections name the 2D came from.
        disk_names: (subject, canonical sequence) → the name the npz file used.
        notes: quirks handled while loading (renamed keys, skipped sequences, ignored subjects).
        inconsistencies: places where the files disagree (frame counts, missing cameras or sequences).
    """
    root: Path
    frame_template: str
    positions_3d: dict[str, dict[str, np.ndarray]] = field(repr=False)
    positions_2d: dict[str, dict[str, list[np.ndarray | None]]] = field(repr=False)
    source_2d: str = GROUND_TRUTH
    disk_names: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list, repr=False)
    inconsistencies: list[str] = field(default_factory=list, repr=False)
    _frame_names: dict[tuple[str, str, int], str] = field(default_factory=dict, init=False, repr=False)
    _boxes: dict[tuple[str, str, int], np.ndarray] = field(default_factory=dict, init=False, repr=False)

    @property
    def subjects(self) -> list[str]:
        return sorted(self.positions_3d, key=subject_id)

    def sequences(self, subjects=None, actions=None) -> list[SequenceKey]:
        """Sequence keys, sorted by subject number then name; `actions` match the canonical action exactly."""
        subjects = _check_subjects(subjects, self.subjects, f"the subjects loaded from {self.root}")
        actions = _check_actions(actions)
        keys = [SequenceKey(s, seq) for s in subjects for seq in self.positions_3d[s]
                if actions is None or canonical_action(seq) in actions]
        return sorted(keys, key=_sort_key)

    def num_frames(self, key: SequenceKey | tuple) -> int:
        """Number of frames N of a sequence (3D and 2D share it after trimming)."""
        key = _as_key(key)
        return len(self._positions_3d(key))

    def cameras_of(self, key: SequenceKey | tuple) -> list[int]:
        """Camera indices (0–3) that have 2D for this sequence."""
        key = _as_key(key)
        self._positions_3d(key)
        return [c for c, x in enumerate(self.positions_2d[key.subject][key.sequence]) if x is not None]

    def camera(self, subject: str, camera: int | str) -> Camera:
        """Camera `camera` (index 0–3 or id string) of `subject`."""
        return get_camera(subject, camera)

    def frame_path(self, key: SequenceKey | tuple, camera: int, frame: int) -> Path:
        """Image of array row `frame` (0-based) of camera index `camera`; the file name is 1-based."""
        key = _as_key(key)
        name = self._frame_names.get((key.subject, key.sequence, camera))
        if name is None:
            name = self._resolve_disk_name(key, camera)
        return self._format_frame(key.subject, name, camera, frame)

    def box_path(self, key: SequenceKey | tuple, camera: int) -> Path:
        """The person-box file of a sequence and camera index (``BOX_FOLDER``): the first of
        ``<name>.<camera id>.mat`` / ``.npy`` that exists over the spellings a frame folder may use
        (S1's raw ``TakingPhoto 1``), else the canonical ``.mat`` path (for the error message)."""
        key = _as_key(key)
        self._positions_3d(key)
        folder = self.root / BOX_FOLDER.format(subject=key.subject)
        candidates = [folder / f"{name}.{CAMERA_IDS[camera]}{suffix}"
                      for name in self._disk_name_candidates(key) for suffix in BOX_SUFFIXES]
        return next((p for p in candidates if p.is_file()), candidates[0])

    def person_boxes(self, key: SequenceKey | tuple, camera: int) -> np.ndarray:
        """(N, 4) float64 person boxes x0, y0, x1, y1 of a sequence and camera index, full-frame pixels with
        pixel centres at integers (a mask covering pixels a … b gives a − ½ … b + ½), one per pose frame.

        Read from ``box_path`` once and cached. Box files hold one box per video frame (a few more than
        the poses) and are cut to the N poses; a frame whose mask is empty takes the box of the nearest
        frame that has one (recorded in ``notes``).

        Raises:
            DataError: no box file (naming the expected path and how to get it), an unreadable file,
                fewer boxes than poses, or no box at all.
        """
        key = _as_key(key)
        cached = self._boxes.get((key.subject, key.sequence, camera))
        if cached is not None:
            return cached
        path = self.box_path(key, camera)
        if not path.is_file():
            raise DataError(f"no person box file {path} (.mat or .npy) for data.box_source=silhouette; {_FIX_BOXES}")
        boxes = read_box_file(path)
        n = self.num_frames(key)
        if len(boxes) < n:
            raise DataError(f"{path} has {len(boxes)} boxes but {key.subject} {key.sequence!r} has {n} poses; "
                            f"{_FIX_BOXES}")
        boxes = boxes[:n]
        empty = ~np.isfinite(boxes).all(axis=1)
        if empty.all():
            raise DataError(f"{path}: every one of the {n} frames has an empty person mask; {_FIX_BOXES}")
        if empty.any():
            valid = np.flatnonzero(~empty)
            after = np.minimum(np.searchsorted(valid, np.arange(n)), len(valid) - 1)     # first valid ≥ frame
            before = np.maximum(after - 1, 0)
            nearest = np.where(np.abs(valid[before] - np.arange(n)) <= np.abs(valid[after] - np.arange(n)),
                               valid[before], valid[after])
            boxes = boxes[nearest]
            self.notes.append(f"{path.name}: {int(empty.sum())} frames with an empty person mask take the nearest "
                              f"frame's box (first: frame {int(np.argmax(empty))})")
        self._boxes[key.subject, key.sequence, camera] = boxes
        return boxes

    def check_frames(self, keys=None, cameras=None, stride: int = 1) -> Path | None:
        """The first missing frame image (every `stride`-th frame and the last one checked), or None."""
        for path, exists in self._scan_frames(keys, cameras, stride):
            if not exists:
                return path
        return None

    def missing_frames(self, keys=None, cameras=None, stride: int = 1, first: int = 5) -> FrameCheck:
        """Count missing frame images over every `stride`-th frame (and the last) of each sequence and camera."""
        checked, missing, paths = 0, 0, []
        for path, exists in self._scan_frames(keys, cameras, stride):
            checked += 1
            if not exists:
                missing += 1
                if len(paths) < first:
                    paths.append(path)
        return FrameCheck(checked=checked, missing=missing, first_missing=tuple(paths), stride=stride)

    # --- private --------------------------------------------------------------------------

    def _positions_3d(self, key: SequenceKey) -> np.ndarray:
        try:
            return self.positions_3d[key.subject][key.sequence]
        except KeyError:
            valid = ", ".join(f"{k.subject} {k.sequence!r}" for k in self.sequences()[:8])
            raise DataError(f"{self.root}: no sequence {key.subject} {key.sequence!r} loaded "
                            f"(e.g. {valid}); use a key from Human36M.sequences()") from None

    def _format_frame(self, subject: str, name: str, camera: int, frame: int) -> Path:
        return self.root / self.frame_template.format(subject=subject, sequence=name, camera=CAMERA_IDS[camera],
                                                      camera_index=camera, frame=frame + 1)

    def _disk_name_candidates(self, key: SequenceKey) -> list[str]:
        """Spellings a frame folder may use: canonical, the npz's own, the raw S1 ones, then with underscores."""
        names = [key.sequence, self.disk_names.get((key.subject, key.sequence), key.sequence)]
        action = key.action
        names += [alias + key.sequence[len(action):] for alias, canonical in ACTION_ALIASES.items()
                  if canonical == action]
        names += [n.replace(" ", "_") for n in names]
        return list(dict.fromkeys(names))

    def _resolve_disk_name(self, key: SequenceKey, camera: int) -> str:
        self._positions_3d(key)
        if not 0 <= camera < NUM_CAMERAS:
            raise DataError(f"camera index {camera} out of range; "
                            f"valid: 0..{NUM_CAMERAS - 1} ({', '.join(CAMERA_IDS)})")
        candidates = self._disk_name_candidates(key)
        first_frames = [self._format_frame(key.subject, n, camera, 0) for n in candidates]
        found = next((n for n, p in zip(candidates, first_frames) if p.is_file()), None)
        if found is None:  # first image missing: fall back to a folder that exists, else canonical
            found = next((n for n, p in zip(candidates, first_frames) if p.parent.is_dir()), key.sequence)
        self._frame_names[(key.subject, key.sequence, camera)] = found
        return found

    def _scan_frames(self, keys, cameras, stride: int):
        """Yield (path, exists) for the frames checked; one directory listing per sequence and camera."""
        if stride < 1:
            raise DataError(f"frame check stride must be ≥ 1, got {stride}")
        keys = self.sequences() if keys is None else [_as_key(k) for k in keys]
        for key in keys:
            n = self.num_frames(key)
            frames = list(range(0, n, stride))
            if frames and frames[-1] != n - 1:
                frames.append(n - 1)
            available = self.cameras_of(key)
            for cam in (available if cameras is None else [c for c in cameras if c in available]):
                listings: dict[Path, set[str]] = {}
                for frame in frames:
                    path = self.frame_path(key, cam, frame)
                    names = listings.get(path.parent)
                    if names is None:
                        names = listings[path.parent] = set(os.listdir(path.parent)) if path.parent.is_dir() else set()
                    yield path, path.name in names


# --- loading --------------------------------------------------------------------------------

def load_human36m(root, frame_template: str = DEFAULT_FRAME_TEMPLATE, detections: str | None = None,
                  subjects=None, actions=None) -> Human36M:
    """Load the 3D poses and the 2D (ground truth, or `detections`) of a data root.

    Args:
        root: data root in the real Human3.6M layout (module docstring).
        frame_template: frame image path under root (fields: subject, sequence, camera,
            camera_index, frame; frame is 1-based).
        detections: name of a detections file ``data_2d_h36m_<name>.npz`` (e.g. 'cpn_ft_h36m_dbb')
            to use instead of the ground-truth 2D; it must be in the h36m 17-joint layout.
        subjects: subjects to load (default: all in the 3D file); each must be in the file.
        actions: canonical action names to keep (exact match, default: all).

    Returns:
        A :class:`Human36M` with 3D and 2D trimmed to a common length per sequence.

    Raises:
        DataError: missing root, file or key; wrong shape; non-finite coordinates; unknown subject
            or action; a detections file in another joint layout.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"data root {root} does not exist: run `make data` for the synthetic default, "
                        f"or set data.root=/path/to/human36m (see README)")
    _check_template(frame_template)
    wanted_subjects = None if subjects is None else _check_subjects(subjects, SUBJECTS, "Human3.6M")
    wanted_actions = _check_actions(actions)
    notes: list[str] = []
    inconsistencies: list[str] = []

    name_2d = detections or GROUND_TRUTH
    path_2d = root / file_2d(name_2d)
    if detections and not path_2d.is_file():
        available = sorted(p.name[len("data_2d_h36m_"):-len(".npz")] for p in root.glob("data_2d_h36m_*.npz"))
        raise DataError(f"no detections file {path_2d} (detections in {root}: {', '.join(available) or 'none'}); "
                        f"download it as described in VideoPose3D's DATASETS.md or pick another name")
    _check_metadata(path_2d, _read_pickled(path_2d, "metadata", required=bool(detections)))

    path_3d = root / FILE_3D
    tree_3d = _canonical_tree(_read_pickled(path_3d, "positions_3d"), path_3d, notes)
    present = sorted(tree_3d, key=subject_id)
    absent = [s for s in wanted_subjects or () if s not in tree_3d]
    if absent:
        raise DataError(f"{path_3d} has no subject {', '.join(absent)} (has: {', '.join(present) or 'none'}); "
                        f"restrict the subjects (data.train_subjects, data.test_subjects) to those present")
    kept_subjects = wanted_subjects if wanted_subjects is not None else present
    present_actions = sorted({canonical_action(q) for s in kept_subjects for q in tree_3d[s]})
    absent_actions = sorted((wanted_actions or set()) - set(present_actions))
    if absent_actions:
        raise DataError(f"no sequence of action {', '.join(map(repr, absent_actions))} in {path_3d} for subjects "
                        f"{', '.join(kept_subjects)} (actions present: {', '.join(present_actions) or 'none'}); "
                        f"drop it from data.actions")
    tree_2d = _canonical_tree(_read_pickled(path_2d, "positions_2d"), path_2d, notes)

    positions_3d: dict[str, dict[str, np.ndarray]] = {}
    positions_2d: dict[str, dict[str, list]] = {}
    disk_names: dict[tuple[str, str], str] = {}
    for subject in kept_subjects:
        if subject not in tree_2d:
            raise DataError(f"{path_2d} has no subject {subject} (has: {', '.join(sorted(tree_2d, key=subject_id))}); "
                            f"use a 2D file covering the subjects of {FILE_3D} or restrict the subjects")
        for sequence, (disk_name, poses_3d) in sorted(tree_3d[subject].items()):
            if wanted_actions is not None and canonical_action(sequence) not in wanted_actions:
                continue
            if (subject, sequence) in BROKEN_SEQUENCES:
                notes.append(f"skipped {subject} {sequence!r}: {BROKEN_SEQUENCES[subject, sequence]}")
                continue
            pair = _pair_sequence(subject, sequence, (path_3d, disk_name, poses_3d),
                                  (path_2d, tree_2d[subject].get(sequence)), inconsistencies)
            if pair is not None:
                positions_3d.setdefault(subject, {})[sequence] = pair[0]
                positions_2d.setdefault(subject, {})[sequence] = pair[1]
                disk_names[subject, sequence] = disk_name
        extra_2d = sorted(set(tree_2d[subject]) - set(tree_3d[subject]))
        if extra_2d:
            notes.append(f"ignored {subject} 2D without 3D: {', '.join(map(repr, extra_2d))}")
        if subject == "S11" and "Directions" not in tree_3d[subject] and \
                (wanted_actions is None or "Directions" in wanted_actions):
            notes.append(f"S11 has no 'Directions' (expected: {BROKEN_SEQUENCES['S11', 'Directions']})")
        if subject not in positions_3d:
            inconsistencies.append(f"{subject}: no usable sequence (see above): subject skipped")

    ignored = sorted(set(tree_2d) - set(tree_3d), key=subject_id)
    if ignored:
        notes.append(f"ignored subjects of {path_2d.name} without 3D: {', '.join(ignored)}")
    if not positions_3d:
        raise DataError(f"no usable sequences in {root} for subjects {', '.join(kept_subjects)}"
                        f"{' and actions ' + ', '.join(sorted(wanted_actions)) if wanted_actions else ''}; "
                        f"check the files with `python -m dataloader inspect --root {root}`")
    data = Human36M(root=root, frame_template=frame_template, positions_3d=positions_3d,
                    positions_2d=positions_2d, source_2d=name_2d, disk_names=disk_names,
                    notes=notes, inconsistencies=inconsistencies)
    for line in notes:
        logger.debug("%s: %s", root, line)
    if inconsistencies:
        logger.info("%s: %d inconsistencies handled (first: %s)", root, len(inconsistencies), inconsistencies[0])
    return data


def _pair_sequence(subject: str, sequence: str, entry_3d: tuple, entry_2d: tuple, inconsistencies: list[str]):
    """Validate one sequence's 3D and 2D and trim both to the shorter: ((N, 32, 3), 4 × (N, 17, 2) | None) or None.

    entry_3d = (path, name in the file, array); entry_2d = (path, (name in the file, camera list) or None).
    """
    path_3d, disk_name, poses_3d = entry_3d
    path_2d, found_2d = entry_2d
    _check_array(poses_3d, (NUM_JOINTS_RAW, 3), path_3d, subject, disk_name)
    if found_2d is None:
        inconsistencies.append(f"{subject} {sequence!r} has 3D but no 2D in {path_2d.name}: skipped")
        return None
    cams = _check_cameras(found_2d[1], path_2d, subject, found_2d[0], inconsistencies)
    if cams is None:
        return None
    n = _common_length(poses_3d, cams, subject, sequence, inconsistencies)
    if n == 0:
        inconsistencies.append(f"{subject} {sequence!r} has no frames: skipped")
        return None
    return poses_3d[:n], [None if x is None else x[:n] for x in cams]


def read_box_file(path) -> np.ndarray:
    """(V, 4) float64 person boxes x0, y0, x1, y1 (full-frame px) of one video, NaN where a mask is empty.

    ``.npy``: a float (V, 4) array, loaded without pickle (the synthetic generator's files). ``.mat``: the
    real Human3.6M MATLAB v7.3 (HDF5) file, whose cell ``Masks`` holds one binary image per video frame
    with the box filled (read as SPIN's and VNect's Human3.6M preprocessing do); the box is the
    bounding box of the mask's pixels, each pixel i covering i − ½ … i + ½.
    """
    path = Path(path)
    if path.suffix == ".mat":
        return _read_mask_boxes(path)
    try:
        boxes = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"cannot read person boxes {path} ({str(exc).splitlines()[0][:80]}); {_FIX_BOXES}") from None
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.issubdtype(boxes.dtype, np.number):
        raise DataError(f"{path} holds {boxes.dtype} {boxes.shape}, expected float (V, 4) x0, y0, x1, y1; {_FIX_BOXES}")
    return boxes.astype(np.float64)


def _read_mask_boxes(path: Path) -> np.ndarray:
    """Boxes of the per-frame masks of a real ``ground_truth_bb`` .mat file (``read_box_file``)."""
    import h5py  # only real Human3.6M box files need it

    try:
        with h5py.File(path, "r") as mat:
            if "Masks" not in mat:
                raise DataError(f"{path} has no 'Masks' (keys: {', '.join(mat.keys()) or 'none'}); expected the "
                                f"Human3.6M ground_truth_bb layout; {_FIX_BOXES}")
            refs = mat["Masks"][()].reshape(-1)                                   # (V,) object references
            boxes = np.full((len(refs), 4), np.nan)
            for i, ref in enumerate(refs):
                mask = mat[ref][()] != 0                                          # (W, H): MATLAB is column-major
                xs, ys = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
                if len(xs):
                    boxes[i] = xs[0] - 0.5, ys[0] - 0.5, xs[-1] + 0.5, ys[-1] + 0.5
    except OSError as exc:
        raise DataError(f"cannot read {path} as a MATLAB v7.3 (HDF5) file ({str(exc).splitlines()[0][:80]}); "
                        f"{_FIX_BOXES}") from None
    return boxes


def load_box_detections(path, data: Human36M, views) -> dict[tuple[str, str, int], np.ndarray]:
    """Person boxes of a detector (``data.box_source=detections``), validated against the data.

    Layout: an npz (loaded with ``allow_pickle=False``) with one float array per video under the flat
    key ``'<subject>/<canonical sequence>/<camera id>'``, e.g. ``'S9/Walking 1/54138969'``: (V, 4) x0, y0,
    x1, y1 in full-frame pixels, one row per frame from frame 0 (V ≥ the sequence's poses; extra rows
    are cut), every box finite with x1 ≥ x0 and y1 ≥ y0. This is VideoPose3D's detections layout
    (subject → sequence → camera) with flat keys, since nested dicts need pickle.

    Args:
        path: the npz file.
        data: the loaded data root (frame counts per sequence).
        views: (SequenceKey, camera index) pairs whose boxes are needed.

    Returns:
        (subject, sequence, camera index) → (N, 4) float64 boxes, N the sequence's poses.

    Raises:
        DataError: one line naming the file and key and the fix.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"person box detections {path} (data.detections) do not exist; {_FIX_DETECTIONS}")
    if not zipfile.is_zipfile(path):
        raise DataError(f"person box detections {path} is not an npz archive; {_FIX_DETECTIONS}")
    out = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            files = set(npz.files)
            for key, camera in views:
                key = _as_key(key)
                name = f"{key.subject}/{key.sequence}/{CAMERA_IDS[camera]}"
                if name not in files:
                    example = ", ".join(sorted(files)[:3]) or "none"
                    raise DataError(f"{path} has no boxes for {name!r} (keys like: {example}); {_FIX_DETECTIONS}")
                boxes = npz[name]
                out[key.subject, key.sequence, camera] = _check_detection_boxes(boxes, data.num_frames(key),
                                                                                path, name)
    except DataError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:  # e.g. an object array: needs pickle
        raise DataError(f"cannot read person box detections {path} ({str(exc).splitlines()[0][:80]}); "
                        f"{_FIX_DETECTIONS}") from None
    return out


def _check_detection_boxes(boxes: np.ndarray, n: int, path: Path, name: str) -> np.ndarray:
    """The first `n` rows of one video's detection boxes as float64 (N, 4), or a DataError naming the frame."""
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.issubdtype(boxes.dtype, np.number):
        raise DataError(f"{path}: {name!r} has {boxes.dtype} shape {boxes.shape}, expected float (N, 4) "
                        f"x0, y0, x1, y1; {_FIX_DETECTIONS}")
    if len(boxes) < n:
        raise DataError(f"{path}: {name!r} has {len(boxes)} boxes, the sequence has {n} frames; {_FIX_DETECTIONS}")
    boxes = boxes[:n].astype(np.float64)
    bad = ~np.isfinite(boxes).all(axis=1)
    if bad.any():
        raise DataError(f"{path}: {name!r} frame {int(np.argmax(bad))} has a non-finite box; {_FIX_DETECTIONS}")
    flipped = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if flipped.any():
        raise DataError(f"{path}: {name!r} frame {int(np.argmax(flipped))} has x1 < x0 or y1 < y0 "
                        f"({boxes[int(np.argmax(flipped))].tolist()}); boxes are x0, y0, x1, y1: {_FIX_DETECTIONS}")
    return boxes


def pose_counts(root) -> dict[str, dict[str, int]]:
    """Frames per sequence in ``ROOT/data_3d_h36m.npz``: subject → canonical sequence → N (no validation)."""
    path = Path(root).expanduser() / FILE_3D
    tree = _canonical_tree(_read_pickled(path, "positions_3d"), path, [])
    return {s: {seq: len(arr) for seq, (_, arr) in seqs.items()} for s, seqs in tree.items()}


# What a VideoPose3D npz may pickle: dicts, lists, strings and numbers (pickle opcodes, no global needed) and
# numpy arrays, dtypes and scalars (protocol 2, as Python 2 era files use, spells bytes as _codecs.encode).
# Anything else is refused, as torch.load(weights_only=True) refuses code.
_ARRAY_GLOBALS = frozenset((module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
                           for name in ("_reconstruct", "scalar")) | {("numpy", "ndarray"), ("numpy", "dtype"),
                                                                      ("_codecs", "encode")}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers of numpy arrays only (``_ARRAY_GLOBALS``)."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ARRAY_GLOBALS or (module == "numpy.dtypes" and name.endswith("DType")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused global {module}.{name}: only dicts, lists, strings, numbers and "
                                     f"numpy arrays are read")


def read_npz_object(path: Path, key: str):
    """The object in the 0-d object array `key` of an npz archive (a VideoPose3D file's pickled dict), unpickled
    with ``_ArrayUnpickler``: the pickle can hold containers of numpy arrays and nothing that runs code, so numpy's
    own unrestricted unpickling is never switched on. Returns None if `key` is absent (a plain array is returned as
    it is); raises ``DataError`` for an archive it cannot read or a pickle that holds anything else."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = f"{key}.npy"
            if member not in archive.namelist():
                return None
            with archive.open(member) as fh:
                version = np.lib.format.read_magic(fh)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                _, _, dtype = read_header(fh)
                if not dtype.hasobject:
                    fh.seek(0)
                    return np.lib.format.read_array(fh, allow_pickle=False)
                value = _ArrayUnpickler(fh, encoding="latin1").load()
    except (OSError, EOFError, zipfile.BadZipFile, ValueError, pickle.UnpicklingError, AttributeError,
            ImportError, TypeError) as exc:
        raise DataError(f"cannot read {path} ({type(exc).__name__}: {exc}): {_FIX_FILES}") from None
    return value.item() if isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 0 else value


def _read_pickled(path: Path, key: str, required: bool = True):
    """The object stored under `key` of a VideoPose3D npz (a pickled dict in a 0-d object array), read through
    ``read_npz_object`` (no arbitrary unpickling)."""
    if not path.is_file():
        raise DataError(f"missing file {path}: {_FIX_FILES}")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not an npz archive: {_FIX_FILES}")
    value = read_npz_object(path, key)
    if value is None:
        if not required:
            return None
        with zipfile.ZipFile(path) as archive:
            keys = [name.removesuffix(".npy") for name in archive.namelist()]
        raise DataError(f"{path} has no key {key!r} (keys: {', '.join(keys) or 'none'}); "
                        f"expected the VideoPose3D format: {_FIX_FILES}")
    if not isinstance(value, dict):
        raise DataError(f"{path}: key {key!r} holds {type(value).__name__} {getattr(value, 'shape', '')}, "
                        f"expected a pickled dict as VideoPose3D writes it: {_FIX_FILES}")
    return value


def _canonical_tree(tree: dict, path: Path, notes: list[str]) -> dict[str, dict[str, tuple[str, object]]]:
    """subject → canonical sequence → (name in the file, value); unknown subjects and sequences are noted."""
    out: dict[str, dict[str, tuple[str, object]]] = {}
    ignored_subjects = []
    for subject, sequences in tree.items():
        if subject not in SUBJECTS:
            ignored_subjects.append(str(subject))
            continue
        if not isinstance(sequences, dict):
            raise DataError(f"{path}: subject {subject} holds {type(sequences).__name__}, expected a dict "
                            f"sequence → arrays: {_FIX_FILES}")
        out[subject] = {}
        renamed, unknown = [], []
        for name, value in sequences.items():
            try:
                canonical = canonical_sequence(str(name))
            except KeyError:
                unknown.append(str(name))
                continue
            if canonical in out[subject]:
                raise DataError(f"{path}: {subject} has both {out[subject][canonical][0]!r} and {name!r}, which "
                                f"are the same sequence {canonical!r}; keep one of them")
            if canonical != name:
                renamed.append(f"{name!r} → {canonical!r}")
            out[subject][canonical] = (str(name), value)
        if renamed:
            notes.append(f"{path.name}: renamed {subject} {', '.join(renamed)}")
        if unknown:
            notes.append(f"{path.name}: ignored {subject} sequences of no known action: "
                         f"{', '.join(map(repr, unknown))}")
    if ignored_subjects:
        notes.append(f"{path.name}: ignored subjects {', '.join(ignored_subjects)} "
                     f"(not in {', '.join(SUBJECTS)}: no public 3D or cameras)")
    return out


def _check_metadata(path: Path, metadata) -> None:
    """Refuse a 2D file whose joints are not the h36m 17-joint layout (e.g. coco or 16-joint files)."""
    if metadata is None:
        return
    layout = metadata.get("layout_name", DETECTIONS_LAYOUT)
    num_joints = metadata.get("num_joints", NUM_JOINTS)
    symmetry = metadata.get("keypoints_symmetry")
    expected = [list(JOINTS_LEFT), list(JOINTS_RIGHT)]
    same_symmetry = symmetry is None or [[int(j) for j in side] for side in symmetry] == expected
    if layout != DETECTIONS_LAYOUT or num_joints != NUM_JOINTS or not same_symmetry:
        symmetry_text = "" if symmetry is None else f", keypoints_symmetry {[list(map(int, s)) for s in symmetry]}"
        raise DataError(f"{path} is in the {layout!r} layout ({num_joints} joints{symmetry_text}); only the "
                        f"{DETECTIONS_LAYOUT} {NUM_JOINTS}-joint layout is supported "
                        f"(e.g. cpn_ft_h36m_dbb, detectron_ft_h36m): choose another detections file")


def _check_array(x, shape_tail: tuple[int, ...], path: Path, subject: str, name: str, camera: int | None = None):
    where = f"{path}: {subject} {name!r}" + ("" if camera is None else f" camera {camera} ({CAMERA_IDS[camera]})")
    if not isinstance(x, np.ndarray) or x.ndim != len(shape_tail) + 1 or tuple(x.shape[1:]) != shape_tail \
            or not np.issubdtype(x.dtype, np.floating):
        got = f"shape {tuple(x.shape)} {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise DataError(f"{where} has {got}, expected float (N, {', '.join(map(str, shape_tail))}); "
                        f"rewrite the file in the VideoPose3D layout")
    finite = np.isfinite(x).reshape(len(x), -1).all(axis=1) if len(x) else np.ones(0, bool)
    if not finite.all():
        frame = int(np.argmin(finite))
        raise DataError(f"{where} frame {frame} has non-finite coordinates "
                        f"({x[frame][~np.isfinite(x[frame])][0]}); fix or remove that sequence")


def _check_cameras(cams, path: Path, subject: str, name: str, inconsistencies: list[str]):
    """Validate the per-camera 2D list; None cameras are recorded and kept as None, all-None → None."""
    if not isinstance(cams, (list, tuple)) or len(cams) != NUM_CAMERAS:
        got = f"{type(cams).__name__} of length {len(cams)}" if isinstance(cams, (list, tuple)) else type(cams).__name__
        raise DataError(f"{path}: {subject} {name!r} holds {got}, expected a list of {NUM_CAMERAS} camera arrays "
                        f"(N, {NUM_JOINTS}, 2) in the order {', '.join(CAMERA_IDS)}")
    for c, x in enumerate(cams):
        if x is not None:
            _check_array(x, (NUM_JOINTS, 2), path, subject, name, c)
    missing = [CAMERA_IDS[c] for c, x in enumerate(cams) if x is None]
    if len(missing) == NUM_CAMERAS:
        inconsistencies.append(f"{subject} {name!r}: no camera has 2D in {path.name}: skipped")
        return None
    if missing:
        inconsistencies.append(f"{subject} {name!r}: camera {', '.join(missing)} is None in {path.name}: "
                               f"that camera is skipped")
    return list(cams)


def _common_length(poses_3d: np.ndarray, cams: list, subject: str, sequence: str, inconsistencies: list[str]) -> int:
    lengths = [len(x) for x in cams if x is not None]
    n = min([len(poses_3d), *lengths])
    if any(length != len(poses_3d) for length in lengths):
        counts = ", ".join("None" if x is None else str(len(x)) for x in cams)
        shorter = min(lengths) < (1.0 - MUCH_SHORTER) * len(poses_3d)
        inconsistencies.append(f"{subject} {sequence!r}: 3D has {len(poses_3d)} frames, 2D per camera [{counts}]"
                               f"{' (2D much shorter than 3D)' if shorter else ''}: using the first {n}")
    return n


def _check_subjects(subjects, valid, where: str) -> list[str]:
    if subjects is None:
        return list(valid)
    subjects = [subjects] if isinstance(subjects, str) else list(subjects)
    unknown = [s for s in subjects if s not in valid]
    if unknown:
        raise DataError(f"unknown subject {', '.join(unknown)} for {where}; valid: {', '.join(valid)}")
    return sorted(dict.fromkeys(subjects), key=subject_id)


def _check_actions(actions) -> set[str] | None:
    if actions is None:
        return None
    actions = [actions] if isinstance(actions, str) else list(actions)
    resolved = {ACTION_ALIASES.get(a, a) for a in actions}
    unknown = [a for a in actions if ACTION_ALIASES.get(a, a) not in ACTIONS]
    if unknown:
        raise DataError(f"unknown action {', '.join(map(repr, unknown))}; valid actions: {', '.join(ACTIONS)}")
    return resolved


def _check_template(template: str) -> None:
    """A frame template must format with the known fields and vary with subject, sequence, camera and frame."""
    example = dict(subject="S1", sequence="Directions 1", camera=CAMERA_IDS[0], camera_index=0, frame=1)
    try:
        base = template.format(**example)
        varied = {name: template.format(**{**example, name: value}) for name, value in
                  (("subject", "S5"), ("sequence", "Eating 2"), ("camera", CAMERA_IDS[1]), ("frame", 2))}
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise DataError(f"frame template {template!r} does not format ({type(exc).__name__}: {exc}); fields: "
                        f"{', '.join(TEMPLATE_FIELDS)}; default: {DEFAULT_FRAME_TEMPLATE!r}") from None
    constant = [name for name, path in varied.items() if path == base and not (name == "camera" and
                                                                                "{camera_index" in template)]
    if constant:
        raise DataError(f"frame template {template!r} does not use {{{constant[0]}}}, so different frames share "
                        f"one file; default: {DEFAULT_FRAME_TEMPLATE!r}")
