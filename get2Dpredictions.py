"""Stage 2: run a trained 2D estimator over every frame of the chosen subjects, actions and cameras
and write the 2D prediction artifact (full-frame pixels; see utils/artifact.py).

Reads checkpoint/<experiment>/2d/<model>/model.pt (the last epoch's weights), crops every frame around the
person box of `data.box_source` (silhouette by default; recorded in meta.json as `box_source`), maps
the decoded heatmaps back through the inverse crop, averages with the flipped image by default, and writes
checkpoint/<experiment>/predictions/<model>/. `predict.export_npz=true` also writes
data_2d_h36m_<model>.npz (VideoPose3D layout) in that folder for other lifting code.

    python get2Dpredictions.py model_2D_prediction=ViTPose
"""
from __future__ import annotations

import logging

import numpy as np
import torch
from tqdm import tqdm

from config import MODELS_2D
from dataloader.crop_dataset import normalise_images
from dataloader.reader import load_human36m
from utils.stages import estimator
from utils.engine import layout, runtime
from utils.artifact import save_artifact
from utils.engine.checkpoint import load_checkpoint
from utils.engine.cli import run, setup
from utils.codecs.heatmap import decode_heatmaps

logger = logging.getLogger("get2Dpredictions")


@torch.no_grad()
def main(argv):
    cfg, _, device = setup(argv)
    name = cfg.model_2D_prediction
    if name not in MODELS_2D:
        raise SystemExit(f"get2Dpredictions.py runs a deterministic 2D estimator: model_2D_prediction must be one of "
                         f"{', '.join(MODELS_2D)}, got {name!r} (Probabilistic: get2Dpredictions_prob_pose.py)")
    if runtime.world_size() > 1:
        raise SystemExit("get2Dpredictions.py runs in one process; start it without torchrun")
    ckpt_path = layout.pose2d_checkpoint(cfg, name)
    if not ckpt_path.is_file():
        raise SystemExit(f"error: no trained {name} at {ckpt_path}; train it with `{layout.pose2d_command(name)}`")
    ckpt = load_checkpoint(ckpt_path, expect_model=name)
    model = estimator.rebuild_estimator(ckpt["model_kwargs"])
    model.load_state_dict(ckpt["model"])
    model = estimator.place(model, name, cfg, device).eval()

    data = load_human36m(cfg.data_root, cfg.data.frame_template, subjects=estimator.prediction_subjects(cfg),
                         actions=cfg.data.actions or None)
    keys = data.sequences()
    loader = estimator.prediction_loader(cfg, data, keys, model, device)
    table = estimator.sequence_table(data, keys)
    keypoints, index, errors = [], [], []
    for batch in tqdm(loader, desc=f"predict {name}", dynamic_ncols=True):
        images = normalise_images(batch["image"].to(device))
        with runtime.autocast(device, cfg.runtime.amp):
            heatmaps = estimator.predict_heatmaps(model, images, cfg.predict.flip_test)
        points_hm, _ = decode_heatmaps(heatmaps.float().cpu())
        keypoints.append(estimator.heatmap_to_full_frame(points_hm, batch["to_heatmap"], batch["flipped"]).numpy())
        errors.append(np.linalg.norm(keypoints[-1] - batch["keypoints"].numpy(), axis=-1).mean(-1))
        index.append(estimator.artifact_index(batch["index"], keys, table))
    keypoints, index = np.concatenate(keypoints), np.concatenate(index)

    out_dir = layout.prediction_dir(cfg, name)
    meta = estimator.artifact_meta(cfg, data, source=name, checkpoint=ckpt_path, keys=keys)
    meta.update(box_source=cfg.data.box_source, box_detections=cfg.data.detections or None)
    save_artifact(out_dir, keypoints=keypoints, index=index, meta=meta)
    if cfg.predict.export_npz:
        estimator.export_videopose3d(out_dir / f"data_2d_h36m_{name.lower()}.npz", keypoints, index, meta)
    logger.info("wrote %d predictions to %s (mean 2D error against ground truth: %.2f px)",
                len(keypoints), out_dir, float(np.concatenate(errors).mean()))


if __name__ == "__main__":
    run(main, reads=("model_2D_prediction", "data", "runtime", "pose2d", "predict"))
