"""COCO, MPII and LSP/LSPET person annotations, mapped to the 17 Human3.6M joints (for pre-training the 2D
estimators).

The readers return one :class:`PersonSamples` table: an image path, the 17 Human3.6M joints in image pixels
(NaN where absent), a ``present`` mask and a person box per annotated person. A joint is *present* when the
dataset annotates it as visible; a joint the dataset lacks, or annotates as occluded / not labelled, is absent:
it gets a zero heatmap weight (out of the heatmap loss) and, with ``prob.visibility``, drops out of the
covariance (the marginal Gaussian of the present joints).

Joint tables (Human3.6M joint ← dataset joint; ``dataloader.h36m.JOINT_NAMES`` order):

| Human3.6M | COCO (``person_keypoints_*.json``) | MPII (``mpii_human_pose_v1_u12_1.mat``) | LSP / LSPET (``joints.mat``) |
|---|---|---|---|
| 0 Hip (pelvis) | absent | 6 pelvis | absent |
| 1 RHip, 2 RKnee, 3 RFoot | 12 right_hip, 14 right_knee, 16 right_ankle | 2 r hip, 1 r knee, 0 r ankle | 2 r hip, 1 r knee, 0 r ankle |
| 4 LHip, 5 LKnee, 6 LFoot | 11 left_hip, 13 left_knee, 15 left_ankle | 3 l hip, 4 l knee, 5 l ankle | 3 l hip, 4 l knee, 5 l ankle |
| 7 Spine | absent | absent | absent |
| 8 Thorax | absent | 7 thorax | absent |
| 9 Neck/Nose | 0 nose | 8 upper neck | 12 neck |
| 10 Head | absent (COCO has no head top) | 9 head top | 13 head top |
| 11 LShoulder, 12 LElbow, 13 LWrist | 5 left_shoulder, 7 left_elbow, 9 left_wrist | 13 l shoulder, 14 l elbow, 15 l wrist | 9 l shoulder, 10 l elbow, 11 l wrist |
| 14 RShoulder, 15 RElbow, 16 RWrist | 6 right_shoulder, 8 right_elbow, 10 right_wrist | 12 r shoulder, 11 r elbow, 10 r wrist | 8 r shoulder, 7 r elbow, 6 r wrist |

Formats. COCO: ``{'images': [{id, file_name, width, height}], 'annotations': [{image_id, bbox [x, y, w, h],
keypoints [x1, y1, v1, …] (17 × 3), num_keypoints, iscrowd}]}``; v = 0 not labelled, 1 labelled but not visible,
2 visible; only v = 2 is present. Crowd annotations (``iscrowd: 1``) and people with no present joint are skipped.
MPII: the MATLAB struct ``RELEASE`` (the official annotation file; TIC-TAC ships the same struct as
``data/mpii/joints.mat``): ``annolist(i).image.name``, ``annolist(i).annorect(p)`` with ``annopoints.point(k)``
(``x``, ``y``, ``id`` 0–15, ``is_visible``), ``objpos`` (x, y) and ``scale`` (person height / 200 px), and
``img_train(i)``; several people per image, any joint may be missing, ``annopoints`` is empty for people without
joints and for the test images, ``is_visible`` may be empty (treated as visible, as TIC-TAC does) or a string.
The MPII person box is the official crop: a square of side 200 · scale around ``objpos``.
LSP and LSPET (the third and fourth datasets of TIC-TAC's ``HumanPose/code/dataloader.py``, ``load_lsp`` /
``load_lspet``): one person per image, a folder with ``joints.mat`` (variable ``joints``) and ``images/``. The two
files differ in layout and in the meaning of the flag: LSP's array is (3, 14, 2000) (x, y, *occluded*: 1 =
occluded, so visible = 1 − flag, TIC-TAC's "toggle visibility") with images ``im0001.jpg`` …, its first half the
training split and its second half the test split; LSPET's is (14, 3, 10000) (x, y, *visible*: 1 = visible) with
images ``im00001.jpg`` …, all training. The reader tells them apart by the array's shape. Neither has a person box:
the box is that of the annotated joints (occluded ones included, their coordinates are annotated too).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataloader.h36m import NUM_JOINTS
from dataloader.reader import DataError

# Human3.6M joint j ← dataset joint COCO_TO_H36M[j] (-1: the dataset lacks it); the table above.
COCO_TO_H36M = (-1, 12, 14, 16, 11, 13, 15, -1, -1, 0, -1, 5, 7, 9, 6, 8, 10)
MPII_TO_H36M = (6, 2, 1, 0, 3, 4, 5, -1, 7, 8, 9, 13, 14, 15, 12, 11, 10)
LSP_TO_H36M = (-1, 2, 1, 0, 3, 4, 5, -1, -1, 12, 13, 9, 10, 11, 8, 7, 6)
COCO_NUM_JOINTS, MPII_NUM_JOINTS, LSP_NUM_JOINTS = 17, 16, 14
MPII_BOX_UNIT = 200.0  # px per unit of MPII's `scale`


@dataclass
class PersonSamples:
    """One row per annotated person: ``images`` (N,) paths, ``keypoints`` (N, 17, 2) float64 image px (NaN where
    absent), ``present`` (N, 17) bool, ``boxes`` (N, 4) x0, y0, x1, y1 px, ``train`` (N,) bool (the dataset's
    own split where it has one; COCO: by file)."""
    images: list[Path]
    keypoints: np.ndarray
    present: np.ndarray
    boxes: np.ndarray
    train: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    @classmethod
    def concatenate(cls, parts: list[PersonSamples]) -> PersonSamples:
        """The rows of every table of `parts`, in order (several datasets read as one training set)."""
        return cls([image for part in parts for image in part.images],
                   *(np.concatenate([getattr(part, k) for part in parts]) for k in ("keypoints", "present", "boxes",
                                                                                      "train")))


def to_h36m(points: np.ndarray, visible: np.ndarray, table) -> tuple[np.ndarray, np.ndarray]:
    """Dataset joints (K, 2) with a visible mask (K,) → Human3.6M (17, 2) (NaN where absent) and present (17,)."""
    keypoints = np.full((NUM_JOINTS, 2), np.nan)
    present = np.zeros(NUM_JOINTS, dtype=bool)
    for j, k in enumerate(table):
        if k >= 0 and visible[k]:
            keypoints[j], present[j] = points[k], True
    return keypoints, present


def _samples(rows: list, train: bool | list) -> PersonSamples:
    if not rows:
        return PersonSamples([], np.zeros((0, NUM_JOINTS, 2)), np.zeros((0, NUM_JOINTS), bool), np.zeros((0, 4)),
                             np.zeros(0, bool))
    images, keypoints, present, boxes, split = zip(*rows)
    return PersonSamples(list(images), np.stack(keypoints), np.stack(present), np.stack(boxes).astype(np.float64),
                         np.array(split, dtype=bool))


# --- COCO --------------------------------------------------------------------------------------------------------

def read_coco(annotation_file: str | Path, image_dir: str | Path, *, train: bool = True) -> PersonSamples:
    """Every non-crowd person with at least one present joint in a COCO ``person_keypoints_*.json``."""
    path = Path(annotation_file)
    if not path.is_file():
        raise DataError(f"COCO annotation file {path} not found; download person_keypoints_<split>.json "
                        f"(cocodataset.org, annotations_trainval2017.zip) and set data.coco_annotations")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"COCO annotation file {path} is not valid JSON ({exc}); download it again") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise DataError(f"COCO annotation file {path} has no 'images' and 'annotations' lists; is it a "
                        f"person_keypoints_*.json?")
    files = {}
    for image in data["images"]:
        if "id" not in image or "file_name" not in image:
            raise DataError(f"COCO annotation file {path}: an image entry lacks 'id' or 'file_name' ({image})")
        files[image["id"]] = Path(image_dir) / image["file_name"]
    rows = []
    for i, ann in enumerate(data["annotations"]):
        if ann.get("iscrowd", 0):
            continue  # a crowd region: no keypoints of one person
        missing = [k for k in ("image_id", "bbox", "keypoints") if k not in ann]
        if missing:
            raise DataError(f"COCO annotation file {path}: annotation {i} lacks {', '.join(missing)}")
        values = np.asarray(ann["keypoints"], dtype=np.float64)
        if values.shape != (3 * COCO_NUM_JOINTS,):
            raise DataError(f"COCO annotation file {path}: annotation {i} has {values.size} keypoint values, "
                            f"expected {3 * COCO_NUM_JOINTS} (17 × x, y, v)")
        if ann["image_id"] not in files:
            raise DataError(f"COCO annotation file {path}: annotation {i} names image_id {ann['image_id']}, "
                            f"which is not in 'images'")
        values = values.reshape(COCO_NUM_JOINTS, 3)
        keypoints, present = to_h36m(values[:, :2], values[:, 2] == 2, COCO_TO_H36M)
        if not present.any():
            continue  # no visible joint: nothing to supervise
        x, y, w, h = (float(v) for v in ann["bbox"])
        rows.append((files[ann["image_id"]], keypoints, present, np.array([x, y, x + w, y + h]), train))
    return _samples(rows, train)


# --- MPII --------------------------------------------------------------------------------------------------------

def _items(value) -> list:
    """A MATLAB struct array or cell as loaded with squeeze_me=True (an object, an array of them, or empty) → list."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return [] if value.size == 0 else list(value.ravel())
    return [value]


def _number(value) -> float | None:
    """A MATLAB scalar (number, 1-element array or numeric string) → float; empty → None."""
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return None
        value = value.ravel()[0]
    if isinstance(value, str):
        return float(value) if value.strip() else None
    return float(value)


def read_mpii(annotation_file: str | Path, image_dir: str | Path) -> PersonSamples:
    """Every person with at least one present joint in the MPII ``RELEASE`` struct (train and test images; the
    test images carry no joints, so only ``img_train`` images give rows)."""
    import scipy.io

    path = Path(annotation_file)
    if not path.is_file():
        raise DataError(f"MPII annotation file {path} not found; download mpii_human_pose_v1_u12_1.mat "
                        f"(human-pose.mpi-inf.mpg.de) and set data.mpii_annotations")
    try:
        release = scipy.io.loadmat(str(path), struct_as_record=False, squeeze_me=True).get("RELEASE")
    except Exception as exc:  # not a MATLAB file, truncated
        raise DataError(f"MPII annotation file {path} cannot be read as a MATLAB file ({exc}); download it again") \
            from None
    if release is None or not hasattr(release, "annolist"):
        raise DataError(f"MPII annotation file {path} has no RELEASE.annolist struct; is it "
                        f"mpii_human_pose_v1_u12_1.mat?")
    annolist = _items(release.annolist)
    img_train = np.atleast_1d(getattr(release, "img_train", np.ones(len(annolist)))).astype(bool)
    if len(img_train) != len(annolist):
        raise DataError(f"MPII annotation file {path}: img_train has {len(img_train)} entries, annolist "
                        f"{len(annolist)}")
    rows = []
    for i, annotation in enumerate(annolist):
        image = getattr(annotation, "image", None)
        name = getattr(image, "name", None)
        if not isinstance(name, str):
            raise DataError(f"MPII annotation file {path}: annolist({i + 1}).image.name is missing")
        for person in _items(getattr(annotation, "annorect", None)):
            annopoints = getattr(person, "annopoints", None)
            points = _items(getattr(annopoints, "point", None)) if annopoints is not None else []
            if not points:
                continue  # a person without joints (and every test-image person)
            raw = np.full((MPII_NUM_JOINTS, 2), np.nan)
            visible = np.zeros(MPII_NUM_JOINTS, dtype=bool)
            for point in points:
                joint = int(_number(point.id))
                flag = _number(getattr(point, "is_visible", None))
                raw[joint] = (_number(point.x), _number(point.y))
                visible[joint] = flag is None or flag > 0  # empty is_visible: visible (TIC-TAC's reading)
            keypoints, present = to_h36m(raw, visible, MPII_TO_H36M)
            if not present.any():
                continue
            scale, objpos = _number(getattr(person, "scale", None)), getattr(person, "objpos", None)
            if scale is not None and objpos is not None and _number(getattr(objpos, "x", None)) is not None:
                cx, cy, half = _number(objpos.x), _number(objpos.y), MPII_BOX_UNIT * scale / 2
                box = np.array([cx - half, cy - half, cx + half, cy + half])
            else:  # no objpos/scale: the box of the annotated joints
                known = raw[np.isfinite(raw[:, 0])]
                box = np.concatenate([known.min(0), known.max(0)])
            rows.append((Path(image_dir) / name, keypoints, present, box, bool(img_train[i])))
    return _samples(rows, True)


# --- LSP / LSPET -------------------------------------------------------------------------------------------------

def read_lsp(root: str | Path) -> PersonSamples:
    """The people of one LSP or LSPET folder (``joints.mat`` + ``images/``; the module doc gives both layouts)."""
    import scipy.io

    root = Path(root)
    path = root / "joints.mat"
    if not path.is_file():
        raise DataError(f"LSP/LSPET annotation file {path} not found; download lsp_dataset.zip or lspet_dataset.zip "
                        f"(sam.johnson.io/research/lsp.html), unpack it there and list its folder in data.lsp_roots")
    try:
        joints = scipy.io.loadmat(str(path)).get("joints")
    except Exception as exc:  # not a MATLAB file, truncated
        raise DataError(f"LSP/LSPET annotation file {path} cannot be read as a MATLAB file ({exc}); download it "
                        f"again") from None
    if joints is None:
        raise DataError(f"LSP/LSPET annotation file {path} has no 'joints' array; is it LSP's or LSPET's joints.mat?")
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim == 3 and joints.shape[:2] == (3, LSP_NUM_JOINTS):      # LSP: flag 1 = occluded
        rows3 = joints.transpose(2, 1, 0)                                    # (N, 14, 3)
        visible, digits = rows3[..., 2] == 0, 4
        train = np.arange(len(rows3)) < len(rows3) // 2                    # first half train, second half test
    elif joints.ndim == 3 and joints.shape[:2] == (LSP_NUM_JOINTS, 3):    # LSPET: flag 1 = visible
        rows3 = joints.transpose(2, 0, 1)
        visible, digits = rows3[..., 2] > 0, 5
        train = np.ones(len(rows3), dtype=bool)
    else:
        raise DataError(f"LSP/LSPET annotation file {path}: 'joints' has shape {joints.shape}, expected (3, 14, N) "
                        f"(LSP) or (14, 3, N) (LSPET)")
    rows = []
    for i, (points, seen) in enumerate(zip(rows3[..., :2], visible)):
        keypoints, present = to_h36m(points, seen, LSP_TO_H36M)
        if not present.any():
            continue
        annotated = points[np.isfinite(points).all(-1) & (points > 0).any(-1)]  # LSPET leaves some at (0, 0)
        annotated = annotated if len(annotated) else keypoints[present]
        box = np.concatenate([annotated.min(0), annotated.max(0)])
        rows.append((root / "images" / f"im{i + 1:0{digits}d}.jpg", keypoints, present, box, bool(train[i])))
    return _samples(rows, True)
