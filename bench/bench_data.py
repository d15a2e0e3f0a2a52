"""Data benchmarks: DataLoader throughput next to the rate at which training consumes it.

- 2D crops (``FrameCropDataset``, training augmentation, the 2D model's input size): items/s through a
  DataLoader with the configured workers and batch, against the ViTPose training step; the per-item
  cost in one process split into frame read/decode and the rest; and the two together (the training
  step fed by the loader, end to end) against the training step alone.
- Lifting windows (``LiftingDataset``) from a ground-truth source and from a probabilistic-like source
  (one fresh N(mean, Σ) draw per frame, the Probabilistic artifact's cost), against GraphMLP's step.
- Action clips (``ActionClipDataset``), against SkateFormer's step.
Loader throughput is the steady state (batches after the first; the first, which waits for the workers
to start, is reported apart). Goal: loading faster than consumption (ratio ≥ 1×).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from bench import Row, fmt_rate, fmt_ratio, fmt_seconds, goal_text, timed
from dataloader.h36m import NUM_JOINTS
from dataloader.loaders import make_loader
from dataloader.reader import FILE_3D, file_2d, load_human36m


def find_or_make_root(cfg, tmp_dir: Path, root: Path | None = None) -> tuple[Path, str]:
    """(data root, how it was found): `root`, else the configured root when it holds both npz files,
    else a 'tiny' synthetic root generated into `tmp_dir`."""
    candidate = Path(root) if root is not None else cfg.data_root
    if (candidate / FILE_3D).is_file() and (candidate / file_2d()).is_file():
        return candidate, f"{candidate}"
    from dataloader.synthetic.generate import generate

    started = time.perf_counter()
    made = generate(Path(tmp_dir) / "h36m", profile="tiny")
    return made, f"synthetic 'tiny' root generated in {time.perf_counter() - started:.0f} s ({candidate} has no data)"


def load_train_data(cfg, root: Path):
    """(Human36M of the root, the configured training subjects it has, or all its subjects)."""
    data = load_human36m(root, cfg.data.frame_template, actions=cfg.data.actions or None)
    subjects = [s for s in cfg.data.train_subjects if s in data.subjects] or data.subjects
    return data, subjects


def sequence_keys(cfg, data, subjects) -> list[tuple[str, str, int]]:
    """(subject, sequence, camera) of every sequence and configured camera with 2D (as main.py)."""
    return [(k.subject, k.sequence, c) for k in data.sequences(subjects=subjects) for c in cfg.data.cameras
            if c in data.cameras_of(k)]


def loader_rate(loader, budget_s: float = 8.0, max_batches: int = 40, min_batches: int = 2) -> dict:
    """{first_batch_s, items_per_s, batches}: the first batch (worker start-up) apart, then the steady
    rate over `min_batches` to `max_batches` batches, stopping once `budget_s` seconds are spent; a short
    dataset is re-iterated (a new epoch restarts the workers, as in training)."""
    started = time.perf_counter()
    iterator = iter(loader)
    next(iterator)
    first = time.perf_counter() - started
    items, batches, t0 = 0, 0, time.perf_counter()
    while batches < min_batches or (batches < max_batches and time.perf_counter() - t0 < budget_s):
        try:
            batch = next(iterator)
        except StopIteration:
            iterator = iter(loader)
            continue
        items += len(next(iter(batch.values())))
        batches += 1
    del iterator  # shuts the workers down before the next measurement
    return {"first_batch_s": first, "items_per_s": items / (time.perf_counter() - t0), "batches": batches}


def _loader_row(benchmark: str, rate: dict, consumption: float | None, consumer: str, extra: str) -> Row:
    ratio = rate["items_per_s"] / consumption if consumption else None
    return Row(group="data", benchmark=benchmark, measured=fmt_rate(rate["items_per_s"], " items/s"),
               baseline=f"{fmt_rate(consumption, ' samples/s')} {consumer}" if consumption else "n/a",
               ratio=fmt_ratio(ratio), goal=goal_text(ratio, 1.0),
               notes=f"{extra}, first batch after {fmt_seconds(rate['first_batch_s'])}, {rate['batches']} batches",
               numbers={**rate, "consumption_sps": consumption or float("nan")})


# --- 2D crops -------------------------------------------------------------------------------

def crop_dataset(cfg, data, subjects, input_size, heatmap_size):
    """The training set of train2D.py (augmented crops) for a model of `input_size` / `heatmap_size`."""
    from dataloader.crop_dataset import FrameCropDataset

    c = cfg.pose2d
    return FrameCropDataset(data, data.sequences(subjects=subjects), cfg.data.cameras, cfg.data.frame_stride,
                            input_size, heatmap_size, sigma=c.sigma, margin=c.box_margin, augment=True,
                            rotation=c.rotation, scale=c.scale, flip_prob=c.flip_prob, seed=cfg.seed,
                            reduced_decode=cfg.data.reduced_decode)


def item_breakdown(dataset, batch_size: int, n: int = 96, seed: int = 0) -> dict:
    """Per-item seconds of fetching batches (``__getitems__``, as the DataLoader does) in this process,
    and of the frame read + JPEG decode alone."""
    from dataloader.crop_dataset import read_frame_bgr

    idx = np.random.default_rng(seed).choice(len(dataset), size=min(n, len(dataset)), replace=False)
    dataset.__getitems__(idx[:batch_size].tolist())  # warm-up (imports, caches)
    t0 = time.perf_counter()
    for start in range(0, len(idx), batch_size):
        dataset.__getitems__(idx[start:start + batch_size].tolist())
    item_s = (time.perf_counter() - t0) / len(idx)
    paths = []
    for i in idx:
        k, cam, frame = (int(v) for v in dataset.items[i])
        paths.append(dataset.data.frame_path(dataset.keys[k], cam, frame))
    t0 = time.perf_counter()
    shape = None
    for p in paths:
        shape = read_frame_bgr(p).shape
    read_s = (time.perf_counter() - t0) / len(paths)
    return {"item_s": item_s, "read_s": read_s, "frame_h": shape[0], "frame_w": shape[1], "items": len(idx)}


def bench_decode(data, key, camera: int = 0, repeats: int = 15, seed: int = 0) -> list[Row]:
    """JPEG decode of one frame at the camera's full resolution (the real Human3.6M's 1000 × 1000 px
    frames): full decode vs the ½, ¼ and ⅛ DCT-domain reductions ``data.reduced_decode`` picks from
    (``cv2.IMREAD_REDUCED_COLOR_r``; a 256 × 192 crop of a ~600 px person uses ½ or ¼, a 64 × 48 one ⅛).

    The frame is a stored frame upscaled to the camera resolution, with σ = 6 grey-level noise standing in
    for sensor texture (a smooth image decodes faster than a photograph), encoded at JPEG quality 90.
    """
    import cv2

    from dataloader.crop_dataset import REDUCED_DECODE, read_frame

    cam = data.camera(key.subject, camera)
    small = read_frame(data.frame_path(key, camera, 0))
    full = cv2.resize(small, (cam.res_w, cam.res_h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    full += np.random.default_rng(seed).normal(0.0, 6.0, full.shape).astype(np.float32)
    ok, jpeg = cv2.imencode(".jpg", np.clip(full, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 90])
    seconds = {r: timed(lambda: cv2.imdecode(jpeg, flag), repeats=repeats, warmup=2, budget_s=2.0)[0]
               for r, flag in REDUCED_DECODE.items()}
    return [Row(group="data", benchmark=f"JPEG decode of a {cam.res_w}×{cam.res_h} frame: 1/{r} scale "
                                        f"(IMREAD_REDUCED_COLOR_{r}) vs full",
                measured=fmt_seconds(seconds[r]), baseline=f"{fmt_seconds(seconds[1])} full",
                ratio=fmt_ratio(seconds[1] / seconds[r]),
                notes=f"the per-frame decode cost of real Human3.6M frames; {len(jpeg) / 1e3:.0f} kB JPEG "
                      f"(upscaled stored frame + noise)",
                numbers={"full_s": seconds[1], "reduced_s": seconds[r], "reduction": float(r),
                         "jpeg_bytes": float(len(jpeg))})
            for r in REDUCED_DECODE if r > 1]


def bench_crop_loader(cfg, data, subjects, train_sps: float | None, *, preset: str | None = None,
                      budget_s: float = 8.0, end_to_end: bool = True) -> list[Row]:
    """Crop loader vs the ViTPose training step (`train_sps` samples/s, measured by the caller), the
    per-item breakdown, a camera-resolution frame decode, and (``end_to_end``) the training step fed by
    the loader."""
    from bench.bench_models import build_model

    preset = preset or cfg.pose2d.vitpose_preset
    model, _ = build_model("ViTPose", preset)
    dataset = crop_dataset(cfg, data, subjects, model.input_size, model.heatmap_size)
    batch, workers = cfg.pose2d.batch_size, cfg.data.num_workers
    loader = make_loader(dataset, batch_size=batch, shuffle=True, num_workers=workers, seed=cfg.seed, drop_last=True)
    rate = loader_rate(loader, budget_s)
    rows = [_loader_row(f"FrameCropDataset → DataLoader ({workers} workers, B={batch}) vs ViTPose {preset} "
                        f"training step", rate, train_sps, "consumed",
                        f"{len(dataset)} items, input {model.input_size[0]}×{model.input_size[1]}")]
    parts = item_breakdown(dataset, batch)
    threads = torch.get_num_threads()
    step_cpu_s = threads / train_sps if train_sps else None  # core-seconds of training per sample
    ratio = step_cpu_s / parts["item_s"] if step_cpu_s else None
    rows.append(Row(
        group="data", benchmark=f"FrameCropDataset CPU time per item (batches of {batch}, one process) vs the "
                                f"ViTPose {preset} step's CPU time per sample",
        measured=fmt_seconds(parts["item_s"]),
        baseline=f"{fmt_seconds(step_cpu_s)} step ({threads} threads)" if step_cpu_s else "n/a",
        ratio=fmt_ratio(ratio), goal=goal_text(ratio, 1.0),
        notes=f"≥ 1×: with as many loader cores as training cores the loader outruns the step; frame read + "
              f"decode {fmt_seconds(parts['read_s'])} ({100 * parts['read_s'] / parts['item_s']:.0f} %); frames "
              f"{parts['frame_w']}×{parts['frame_h']} px JPEG; {parts['items']} random items",
        numbers={**parts, "step_cpu_s": step_cpu_s or float("nan")}))
    rows += bench_decode(data, dataset.keys[0], camera=int(dataset.items[0][1]))
    if end_to_end:
        rows.append(bench_end_to_end(model, loader, f"ViTPose {preset}", budget_s))
    return rows


def bench_end_to_end(model, loader, name: str, budget_s: float = 8.0) -> Row:
    """The training step fed by `loader` (images) vs the same step on one fixed batch, timed just before
    and just after (the mean of the two medians), so both see the same machine load."""
    from bench.bench_models import train_step_fn
    from dataloader.crop_dataset import normalise_images

    model.train()
    step = train_step_fn(model, [p for p in model.parameters() if p.requires_grad])
    iterator = iter(loader)
    fixed = normalise_images(next(iterator)["image"])  # worker start-up excluded, as in loader_rate
    alone = [timed(lambda: step(fixed), repeats=5, budget_s=budget_s / 4)[0]]
    samples, steps, t0 = 0, 0, time.perf_counter()
    while steps < 2 or time.perf_counter() - t0 < budget_s:
        try:
            images = normalise_images(next(iterator)["image"])
        except StopIteration:
            iterator = iter(loader)
            continue
        step(images)
        samples, steps = samples + len(images), steps + 1
    e2e = samples / (time.perf_counter() - t0)
    del iterator  # stop the workers before timing the step alone again
    alone.append(timed(lambda: step(fixed), repeats=5, budget_s=budget_s / 4)[0])
    alone_sps = len(fixed) / (sum(alone) / 2)
    ratio = e2e / alone_sps
    return Row(group="data", benchmark=f"{name} training step fed by that DataLoader (end to end) vs the step alone",
               measured=fmt_rate(e2e, " samples/s"), baseline=f"{fmt_rate(alone_sps, ' samples/s')} alone",
               ratio=fmt_ratio(ratio), goal=goal_text(ratio, 0.9),
               notes=f"{samples} samples; the workers share the CPU with the step; step alone timed on one fixed "
                     f"batch just before and after ({fmt_rate(len(fixed) / alone[0], '/s')}, "
                     f"{fmt_rate(len(fixed) / alone[1], '/s')})",
               numbers={"end_to_end_sps": e2e, "alone_sps": alone_sps})


# --- downstream -----------------------------------------------------------------------------

def probabilistic_like(source, scale: float = 0.01, seed: int = 0):
    """A Source2D with the Probabilistic artifact's per-item cost: the ground truth as the mean and one
    Cholesky factor of a random SPD Σ (std ≈ `scale` normalised units) per sequence, broadcast over its
    frames (a view, so the memory of N × 34 × 34 factors is not spent)."""
    from dataloader.sources import Source2D

    rng = np.random.default_rng(seed)
    dim = 2 * NUM_JOINTS
    cholesky = {}
    for key, x in source.keypoints.items():
        a = rng.standard_normal((dim, dim))
        factor = np.linalg.cholesky(a @ a.T / dim + 0.1 * np.eye(dim)) * scale
        cholesky[key] = np.broadcast_to(factor.astype(np.float32), (len(x), dim, dim))
    return Source2D(name="Probabilistic-like", keypoints=source.keypoints, cholesky=cholesky)


def bench_lifting_loader(cfg, data, subjects, train_sps: float | None, *, frames: int | None = None,
                         budget_s: float = 6.0) -> list[Row]:
    """Lifting windows (ground-truth and probabilistic-like sources) vs GraphMLP's training step."""
    from dataloader.lifting_dataset import LiftingDataset
    from dataloader.sources import ground_truth_source
    from models.GraphMLP import GRAPHMLP_PRESETS

    frames = frames or GRAPHMLP_PRESETS[cfg.lifting.preset]["frames"]
    keys = sequence_keys(cfg, data, subjects)
    truth = ground_truth_source(data, keys)
    batch, workers = cfg.lifting.batch_size, cfg.data.num_workers
    rows = []
    for source in (truth, probabilistic_like(truth)):
        dataset = LiftingDataset(data, keys, source, frames, stride=cfg.lifting.train_stride,
                                 flip=cfg.lifting.flip_augmentation, seed=cfg.seed)
        loader = make_loader(dataset, batch_size=batch, shuffle=True, num_workers=workers, seed=cfg.seed,
                             drop_last=True)
        rows.append(_loader_row(f"LiftingDataset ({source.name}, T={frames}) → DataLoader ({workers} workers, "
                                f"B={batch}) vs GraphMLP {cfg.lifting.preset} training step",
                                loader_rate(loader, budget_s), train_sps, "consumed", f"{len(dataset)} items"))
    return rows


def bench_action_loader(cfg, data, subjects, train_sps: float | None, *, clip_length: int | None = None,
                        budget_s: float = 5.0) -> list[Row]:
    """Action clips (ground truth) vs SkateFormer's training step."""
    from dataloader.action_dataset import ActionClipDataset
    from dataloader.sources import ground_truth_source
    from models.SkateFormer import SKATEFORMER_PRESETS

    clip_length = clip_length or SKATEFORMER_PRESETS[cfg.action.preset]["num_frames"]
    keys = sequence_keys(cfg, data, subjects)
    dataset = ActionClipDataset(data, keys, ground_truth_source(data, keys), clip_length, cfg.action.clip_stride,
                                augment=True, seed=cfg.seed)
    batch, workers = cfg.action.batch_size, cfg.data.num_workers
    loader = make_loader(dataset, batch_size=batch, shuffle=True, num_workers=workers, seed=cfg.seed, drop_last=True)
    return [_loader_row(f"ActionClipDataset (GroundTruth, T={clip_length}) → DataLoader ({workers} workers, "
                        f"B={batch}) vs SkateFormer {cfg.action.preset} training step",
                        loader_rate(loader, budget_s), train_sps, "consumed", f"{len(dataset)} clips")]
