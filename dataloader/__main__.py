"""Data-root tools.

    python -m dataloader inspect --root DIR [--frame-template T] [--detections NAME] [--stride K]
    python -m dataloader extract --raw DIR --root DIR [--subjects S1 S5 ...] [--image-scale S] [--workers N]

``inspect`` prints a JSON summary of a data root (subjects, actions, cameras, frames per sequence
and per split, missing frame images, person box files, notes, inconsistencies, "usable") and exits 0 when the root
is usable, 1 otherwise with a one-line error on stderr. ``extract`` writes the frame images from
the original videos (dataloader.frames).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys

from dataloader.h36m import CAMERA_IDS, TEST_SUBJECTS, TRAIN_SUBJECTS, canonical_action, get_camera
from dataloader.reader import DEFAULT_FRAME_TEMPLATE, DataError, load_human36m

# Roots with up to this many images are checked frame by frame; bigger ones every k-th frame.
FULL_CHECK_IMAGES = 100_000
SHOWN_INCONSISTENCIES = 50


def _split(data, subjects) -> dict:
    keys = data.sequences(subjects=[s for s in subjects if s in data.subjects])
    return {"subjects": sorted({k.subject for k in keys}, key=lambda s: int(s[1:])),
            "frames": sum(data.num_frames(k) for k in keys),
            "images": sum(data.num_frames(k) * len(data.cameras_of(k)) for k in keys)}


def _image_sizes(data) -> dict:
    """Size of the first existing frame per camera and its scale against the camera resolution."""
    import cv2

    sizes = {}
    for cam, camera_id in enumerate(CAMERA_IDS):
        for key in data.sequences():
            if cam not in data.cameras_of(key):
                continue
            image = cv2.imread(str(data.frame_path(key, cam, 0)))
            if image is not None:
                res_w = get_camera(key.subject, cam).res_w
                sizes[camera_id] = {"width": image.shape[1], "height": image.shape[0],
                                    "scale": round(image.shape[1] / res_w, 4)}
                break
    return sizes


def _person_boxes(data, keys) -> dict:
    """How many (sequence, camera) videos have a person box file (data.box_source=silhouette needs them;
    their absence leaves the root usable with data.box_source=keypoints or detections)."""
    paths = [data.box_path(k, c) for k in keys for c in data.cameras_of(k)]
    missing = [p for p in paths if not p.is_file()]
    return {"found": len(paths) - len(missing), "videos": len(paths),
            "first_missing": str(missing[0]) if missing else None}


def inspect_root(root, frame_template: str, detections: str | None, stride: int | None) -> tuple[dict, str | None]:
    """(summary, error): the JSON summary of a data root and the one-line reason it is unusable (or None)."""
    summary = {"root": str(root), "frame_template": frame_template, "detections": detections}
    try:
        data = load_human36m(root, frame_template, detections=detections)
    except DataError as exc:
        return {**summary, "usable": False, "error": str(exc)}, str(exc)
    keys = data.sequences()
    total_images = sum(data.num_frames(k) * len(data.cameras_of(k)) for k in keys)
    stride = stride or max(1, math.ceil(total_images / FULL_CHECK_IMAGES))
    check = data.missing_frames(stride=stride)
    summary.update(
        subjects=data.subjects,
        actions={s: sorted({canonical_action(q) for q in data.positions_3d[s]}) for s in data.subjects},
        cameras=list(CAMERA_IDS),
        sequences={s: {k.sequence: data.num_frames(k) for k in keys if k.subject == s} for s in data.subjects},
        splits={"train": _split(data, TRAIN_SUBJECTS), "test": _split(data, TEST_SUBJECTS)},
        images=_image_sizes(data),
        person_boxes=_person_boxes(data, keys),
        missing_images={"checked": check.checked, "stride": check.stride, "count": check.missing,
                        "first": [str(p) for p in check.first_missing]},
        notes=data.notes,
        inconsistencies={"count": len(data.inconsistencies),
                         "items": data.inconsistencies[:SHOWN_INCONSISTENCIES]},
    )
    error = None
    if not summary["splits"]["train"]["subjects"]:
        error = f"{root} has no training subject ({', '.join(TRAIN_SUBJECTS)}); add one to the data files"
    elif not summary["splits"]["test"]["subjects"]:
        error = f"{root} has no test subject ({', '.join(TEST_SUBJECTS)}); add one to the data files"
    elif check.missing:
        error = (f"{check.missing} of {check.checked} checked frame images are missing, first "
                 f"{check.first_missing[0]}; extract them with `python -m dataloader extract --raw DIR --root {root}` "
                 f"or pass the --frame-template they use")
    return {**summary, "usable": error is None, "error": error}, error


def _extract(args) -> None:
    from dataloader.frames import extract_all

    summary = extract_all(args.raw, args.root, args.frame_template, subjects=args.subjects,
                          max_frames=args.max_frames, image_scale=args.image_scale, workers=args.workers)
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dataloader", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="summarise a data root and check it is usable")
    inspect.add_argument("--root", required=True, metavar="DIR", help="data root in the Human3.6M layout")
    inspect.add_argument("--frame-template", default=DEFAULT_FRAME_TEMPLATE, metavar="T",
                         help="frame path under the root (fields subject, sequence, camera, camera_index, frame)")
    inspect.add_argument("--detections", metavar="NAME", help="check data_2d_h36m_NAME.npz instead of the GT 2D")
    inspect.add_argument("--stride", type=int, metavar="K",
                         help=f"check every K-th frame (default: all up to {FULL_CHECK_IMAGES} images, else a sample)")
    extract = commands.add_parser("extract", help="extract frame images from the original videos")
    extract.add_argument("--raw", required=True, metavar="DIR", help="raw Human3.6M folder with <S>/Videos/*.mp4")
    extract.add_argument("--root", required=True, metavar="DIR", help="data root to write the frames into")
    extract.add_argument("--frame-template", default=DEFAULT_FRAME_TEMPLATE, metavar="T", help="frame path under root")
    extract.add_argument("--subjects", nargs="+", default=list(TRAIN_SUBJECTS + TEST_SUBJECTS), metavar="S")
    extract.add_argument("--max-frames", type=int, metavar="N", help="at most N frames per video")
    extract.add_argument("--image-scale", type=float, default=1.0, metavar="S",
                         help="resize factor of the images (area interpolation; 2D stays in full-frame pixels)")
    extract.add_argument("--workers", type=int, default=1, metavar="N", help="videos decoded in parallel")
    args = parser.parse_args(argv)
    # inspect keeps stderr for its one-line verdict; extract reports progress
    logging.basicConfig(level=logging.INFO if args.command == "extract" else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")

    if args.command == "inspect":
        summary, error = inspect_root(args.root, args.frame_template, args.detections, args.stride)
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        try:
            _extract(args)
            error = None
        except DataError as exc:
            error = str(exc)
    if error:
        sys.stderr.write(f"error: {error.splitlines()[0]}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
