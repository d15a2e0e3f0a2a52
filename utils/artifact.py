"""The 2D prediction artifact: what a 2D stage hands to every downstream stage.

A folder with plain ``.npy`` arrays (loadable with ``allow_pickle=False``) and a ``meta.json``:

- ``keypoints_2d.npy`` float32 (N, J, 2): (x, y) pixels in the full original camera frame.
- ``covariance_2d.npy`` float32 (N, 2J, 2J), probabilistic only: same pixel units, joint-major
  interleaved (x0, y0, x1, y1, …); every matrix symmetric positive-definite.
- ``visibility.npy`` float32 (N, J), only when a visibility head was used.
- ``index.npy`` int32 (N, 4): subject number (S11 → 11), sequence index into
  ``meta["sequences"][subject]`` (each action has two sequences, so the action alone is ambiguous),
  camera index 0–3, frame (0-based row of the sequence arrays; image file = row + 1).
- ``meta.json``: schema version, joint names, source model, method, checkpoint and its SHA-256,
  dataset root, image size per camera, sequences and their frame counts, configuration, and
  ``box_source``: the person box the 2D estimator's crops were cut around (``silhouette``,
  ``keypoints``: the ground-truth joints' box, optimistic, or ``detections``, with ``box_detections``
  naming the file); absent in artifacts written before it was recorded (read as unknown).

Consumers validate an artifact against the dataset (joint order, sequences, frame counts) and
refuse a mismatch with one line naming the file and the command that recreates it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dataloader.h36m import JOINT_NAMES, NUM_JOINTS

SCHEMA_VERSION = 1
FILES = ("keypoints_2d.npy", "covariance_2d.npy", "visibility.npy", "index.npy", "meta.json")


class ArtifactError(ValueError):
    """An artifact that cannot be used; the message names the file and the fix."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Artifact:
    keypoints: np.ndarray                 # (N, J, 2) px
    index: np.ndarray                     # (N, 4) int32
    meta: dict
    covariance: np.ndarray | None = None  # (N, 2J, 2J) px²
    visibility: np.ndarray | None = None  # (N, J)
    path: Path | None = None

    @property
    def probabilistic(self) -> bool:
        return self.covariance is not None

    @property
    def box_source(self) -> str:
        """The person box the 2D crops were cut around ('silhouette', 'keypoints', 'detections'); 'unknown'
        for an artifact written before it was recorded."""
        return self.meta.get("box_source", "unknown")

    def sequences(self) -> dict[tuple[str, str, int], np.ndarray]:
        """(subject, sequence, camera) → row indices into the arrays, sorted by frame."""
        subjects = {int(s[1:]): s for s in self.meta["sequences"]}
        order = np.lexsort((self.index[:, 3], self.index[:, 2], self.index[:, 1], self.index[:, 0]))
        idx = self.index[order]
        keys = idx[:, :3]
        change = np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1
        out = {}
        for rows in np.split(order, change):
            s, q, c = (int(v) for v in self.index[rows[0], :3])
            subject = subjects[s]
            out[(subject, self.meta["sequences"][subject][q], c)] = rows
        return out


def save_artifact(out_dir: Path, *, keypoints: np.ndarray, index: np.ndarray, meta: dict,
                  covariance: np.ndarray | None = None, visibility: np.ndarray | None = None) -> Path:
    """Validate and write an artifact atomically (a temporary folder renamed into place)."""
    out_dir = Path(out_dir)
    meta = {"schema_version": SCHEMA_VERSION, "joint_names": list(JOINT_NAMES), **meta}
    art = Artifact(keypoints=keypoints.astype(np.float32), index=index.astype(np.int32), meta=meta,
                   covariance=None if covariance is None else covariance.astype(np.float32),
                   visibility=None if visibility is None else visibility.astype(np.float32))
    validate_arrays(art, out_dir)
    meta["num_predictions"] = int(len(keypoints))
    meta["probabilistic"] = art.probabilistic
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    np.save(tmp / "keypoints_2d.npy", art.keypoints)
    np.save(tmp / "index.npy", art.index)
    if art.covariance is not None:
        np.save(tmp / "covariance_2d.npy", art.covariance)
    if art.visibility is not None:
        np.save(tmp / "visibility.npy", art.visibility)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old{os.getpid()}")
        out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old)
    else:
        tmp.rename(out_dir)
    return out_dir


def _load_npy(path: Path, fix: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ArtifactError(f"artifact file {path} is missing; {fix}") from None
    except (ValueError, OSError, EOFError) as exc:
        raise ArtifactError(f"artifact file {path} is corrupt or truncated ({str(exc).splitlines()[0][:80]}); {fix}") from None


def load_artifact(path: Path, fix: str = "re-run the 2D prediction stage") -> Artifact:
    """Load and validate an artifact folder (no pickle anywhere)."""
    path = Path(path)
    if not (path / "meta.json").is_file():
        raise ArtifactError(f"2D prediction artifact {path} not found (no meta.json); {fix}")
    try:
        meta = json.loads((path / "meta.json").read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path / 'meta.json'} is not valid JSON ({exc.msg}); {fix}") from None
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise ArtifactError(f"{path / 'meta.json'} has schema_version {meta.get('schema_version')}, "
                            f"expected {SCHEMA_VERSION}; {fix}")
    art = Artifact(
        keypoints=_load_npy(path / "keypoints_2d.npy", fix),
        index=_load_npy(path / "index.npy", fix),
        meta=meta,
        covariance=_load_npy(path / "covariance_2d.npy", fix) if meta.get("probabilistic") else None,
        visibility=_load_npy(path / "visibility.npy", fix) if (path / "visibility.npy").is_file() else None,
        path=path,
    )
    validate_arrays(art, path)
    return art


def validate_arrays(art: Artifact, where: Path) -> None:
    """Shapes, dtypes, joint order, finiteness, and SPD covariances; one-line errors naming the frame."""
    names = art.meta.get("joint_names")
    if names != list(JOINT_NAMES):
        raise ArtifactError(f"{where}: joint order {names} does not match the Human3.6M 17-joint order of this framework")
    kp = art.keypoints
    if kp.ndim != 3 or kp.shape[1:] != (NUM_JOINTS, 2):
        raise ArtifactError(f"{where}/keypoints_2d.npy has shape {kp.shape}, expected (N, {NUM_JOINTS}, 2)")
    if art.index.ndim != 2 or art.index.shape != (len(kp), 4) or not np.issubdtype(art.index.dtype, np.integer):
        raise ArtifactError(f"{where}/index.npy has shape {art.index.shape} ({art.index.dtype}), expected ({len(kp)}, 4) integers")
    bad = np.flatnonzero(~np.isfinite(kp).all(axis=(1, 2)))
    if len(bad):
        raise ArtifactError(f"{where}/keypoints_2d.npy: non-finite coordinates at frame {_frame(art, bad[0])}")
    if art.covariance is not None:
        validate_covariances(art.covariance, where / "covariance_2d.npy", lambda i: _frame(art, i), len(kp))
    if art.visibility is not None and art.visibility.shape != (len(kp), NUM_JOINTS):
        raise ArtifactError(f"{where}/visibility.npy has shape {art.visibility.shape}, expected ({len(kp)}, {NUM_JOINTS})")


def validate_covariances(cov: np.ndarray, where, describe, n: int) -> None:
    D = 2 * NUM_JOINTS
    if cov.shape != (n, D, D):
        raise ArtifactError(f"{where} has shape {cov.shape}, expected ({n}, {D}, {D})")
    finite = np.isfinite(cov).all(axis=(1, 2))
    if not finite.all():
        raise ArtifactError(f"{where}: non-finite covariance at frame {describe(np.flatnonzero(~finite)[0])}")
    # torch: 5× faster than numpy's strided transpose and batched eigvalsh on a demo artifact (16.7k frames),
    # and every downstream run loads the artifact again. Cholesky succeeds exactly on the positive-definite.
    x = torch.from_numpy(np.ascontiguousarray(cov))
    asym = (x - x.mT).abs().amax(dim=(1, 2)) > 1e-3 * (x.abs().amax(dim=(1, 2)) + 1e-12)
    if asym.any():
        raise ArtifactError(f"{where}: covariance not symmetric at frame {describe(int(asym.nonzero()[0, 0]))}")
    _, info = torch.linalg.cholesky_ex(x.double())
    if (info > 0).any():
        first = int((info > 0).nonzero()[0, 0])
        eig_min = np.linalg.eigvalsh(cov[first].astype(np.float64)).min()
        raise ArtifactError(f"{where}: covariance not positive-definite at frame {describe(first)} "
                            f"(smallest eigenvalue {eig_min:.3g})")


def _frame(art: Artifact, i: int) -> str:
    s, q, c, f = (int(v) for v in art.index[i])
    try:
        seq = art.meta["sequences"][f"S{s}"][q]
    except (KeyError, IndexError):
        seq = f"sequence #{q}"
    return f"{i} (S{s} {seq!r} camera {c} frame {f})"
