"""Stage 2b: run the probabilistic estimator over every frame and write the probabilistic artifact:
mean (N, 17, 2) and covariance (N, 34, 34) in full-frame pixels (Σ' = 𝒜⁻¹ Σ 𝒜⁻ᵀ through the inverse
crop), visibility when enabled, meta.json naming the method (`prob.export_method`) and the person box
the crops came from (`box_source`, from `data.box_source`).

Jitter policy: every covariance already carries the εI of its parameterisation (`prob.jitter`,
heatmap px²); after the crop transform and the cast to float32, a frame whose smallest eigenvalue is
not safely positive gets the smallest extra jitter that fixes it, and the count is in meta.json.
So every saved matrix is SPD and the downstream sampler never fails.

    python get2Dpredictions_prob_pose.py model_prob_pose=ViTPose prob.export_method=TIC
"""
from __future__ import annotations

import logging

import numpy as np
import torch
from tqdm import tqdm

from dataloader.crop_dataset import normalise_images
from dataloader.reader import load_human36m
from models.pose2d import fold_batchnorm
from utils.stages import estimator, prob_estimator
from utils.engine import layout, runtime
from utils.artifact import save_artifact
from utils.engine.checkpoint import load_checkpoint
from utils.engine.cli import run, setup
from utils.prob.covariance import make_spd

logger = logging.getLogger("get2Dpredictions_prob_pose")


@torch.no_grad()
def main(argv):
    cfg, _, device = setup(argv)
    if runtime.world_size() > 1:
        raise SystemExit("get2Dpredictions_prob_pose.py runs in one process; start it without torchrun")
    backbone, method = cfg.model_prob_pose, cfg.prob.export_method
    ckpt_path = layout.prob_dir(cfg, backbone) / "last.pt"
    if not ckpt_path.is_file():
        raise SystemExit(f"error: no trained probabilistic {backbone} at {ckpt_path}; "
                         f"train it with `{layout.prob_command(backbone)}`")
    ckpt = load_checkpoint(ckpt_path, expect_model=f"Probabilistic_{backbone}")
    kwargs = ckpt["model_kwargs"]
    if method not in kwargs["methods"]:
        raise SystemExit(f"prob.export_method={method} was not trained in {ckpt_path} (methods: {kwargs['methods']})")
    method_set = prob_estimator.build_method_set(estimator.rebuild_estimator(kwargs["pose"]), kwargs["methods"], kwargs["heads"],
                                                    cfg.prob.tic_chunk_size)
    method_set.load_state_dict(ckpt["model"])
    model = estimator.place(method_set.models[method], backbone, cfg, device).eval()  # channels-last Hourglass
    pose = fold_batchnorm(model.pose_model)  # same Gaussians up to float rounding, about 2× faster TIC Jacobians on a CPU

    data = load_human36m(cfg.data_root, cfg.data.frame_template, subjects=estimator.prediction_subjects(cfg),
                         actions=cfg.data.actions or None)
    keys = data.sequences()
    loader = estimator.prediction_loader(cfg, data, keys, pose, device)
    table = estimator.sequence_table(data, keys)
    means, covs, vis, index = [], [], [], []
    for batch in tqdm(loader, desc=f"predict Probabilistic {backbone}/{method}", dynamic_ncols=True):
        images = normalise_images(batch["image"].to(device))
        mean_hm, cov_hm, visibility = prob_estimator.predict_gaussian(model, images, cfg.predict.flip_test)
        mean, cov = prob_estimator.to_full_frame(mean_hm.cpu(), cov_hm.cpu(), batch["to_heatmap"], batch["flipped"])
        means.append(mean.view(len(mean), -1, 2).float().numpy())
        covs.append(cov)
        if visibility is not None:
            vis.append(visibility.float().cpu().numpy())
        index.append(estimator.artifact_index(batch["index"], keys, table))
    cov = torch.cat(covs)
    cov32, jitter = make_spd(0.5 * (cov + cov.transpose(1, 2)), min_eig=1e-3)  # px²: 0.03 px std floor
    cov32 = cov32.float()
    keypoints = np.concatenate(means)
    meta = estimator.artifact_meta(cfg, data, source="Probabilistic", checkpoint=ckpt_path, keys=keys, method=method)
    meta.update(backbone=backbone, box_source=cfg.data.box_source, box_detections=cfg.data.detections or None,
                jitter={"parameterisation_eps_heatmap_px2": cfg.prob.jitter,
                        "frames_with_extra_jitter": int((jitter > 0).sum()),
                        "max_extra_jitter_px2": float(jitter.max()) if len(jitter) else 0.0})
    out_dir = layout.prediction_dir(cfg, "Probabilistic")
    save_artifact(out_dir, keypoints=keypoints, index=np.concatenate(index), meta=meta, covariance=cov32.numpy(),
                  visibility=np.concatenate(vis) if vis else None)
    logger.info("wrote %d Gaussian predictions (%s, %s) to %s", len(keypoints), backbone, method, out_dir)


if __name__ == "__main__":
    run(main, reads=("model_prob_pose", "data", "runtime", "pose2d", "prob", "predict"))
