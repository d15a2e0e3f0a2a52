"""Stage 4: evaluate the downstream model trained on `model_2D_prediction` against the 2D source
`model_2D_dataset`, on the test subjects.

GraphMLP: MPJPE (Protocol 1) and P-MPJPE (Protocol 2, similarity Procrustes) in mm, overall
(frame-weighted) and action-wise (frame-weighted within an action, unweighted mean over the 15
actions, as VideoPose3D and GraphMLP report); the 3D predictions are saved. With a Probabilistic
evaluation source, K Monte-Carlo samples of the 2D are also pushed through the lifter: the per-joint
3D spread, its correlation with the actual error (non-root joints), the action-wise P1 of the samples'
mean and the 3D quantile calibration (cGNF) are reported, the samples laid out along each window by
`lifting.sample_mode`. SkateFormer: top-1 per split. An evaluation on Probabilistic or ProbabilisticMean
reads the artifact's means; on GroundTruthCov (GroundTruth+Σ), one fixed draw per frame of the ground truth
+ N(0, Σ) (seeded by `seed`). The final checkpoint (`last.pt`) is evaluated: no model selection on the
test subjects. A model trained with `lifting.input` / `action.input` ≠ xy reads the same uncertainty channels of
the evaluation source (the constant "no uncertainty" channels on a deterministic one).

    python get3Dprediction.py model_2D_prediction=GroundTruth model_2D_dataset=ViTPose
    python get3Dprediction.py model_2D_prediction=ProbabilisticMean model_2D_dataset=GroundTruthCov
"""
from __future__ import annotations

import json
import logging

import numpy as np

from dataloader.h36m import ACTIONS
from dataloader.reader import load_human36m
from utils.stages import downstream
from utils.engine import layout, runtime
from utils.engine.cli import run, setup
from utils.stages.downstream import sequence_keys
from utils.stages.evaluation import evaluate_actions, evaluate_lifter, monte_carlo_spread
from utils.engine.files import write_csv

logger = logging.getLogger("get3Dprediction")


def main(argv):
    cfg, _, device = setup(argv)
    if runtime.world_size() > 1:
        raise SystemExit("get3Dprediction.py runs in one process; start it without torchrun")
    channels = downstream.input_mode(cfg)
    train_tag = layout.source_tag(cfg.model_2D_prediction, cfg.noise_std, channels)
    model_dir = layout.downstream_dir(cfg, cfg.model_3D_prediction, train_tag)
    out_dir = layout.eval_dir(cfg, cfg.model_3D_prediction, train_tag, cfg.model_2D_dataset)
    fix = ("train it with "
           f"`{layout.downstream_command(cfg.model_3D_prediction, cfg.model_2D_prediction, cfg.noise_std, channels)}`")
    data = load_human36m(cfg.data_root, cfg.data.frame_template,
                         subjects=list(cfg.data.train_subjects) + list(cfg.data.test_subjects),
                         actions=cfg.data.actions or None)
    out_dir.mkdir(parents=True, exist_ok=True)

    if cfg.model_3D_prediction == "SkateFormer":
        results = {split: evaluate_actions(cfg, data, device, model_dir / split / "last.pt", split, fix)
                   for split in cfg.action.splits}
        (out_dir / "metrics.json").write_text(json.dumps(results, indent=1))
        logger.info("SkateFormer %s on %s: %s", train_tag, cfg.model_2D_dataset,
                    ", ".join(f"{s} top-1 {r['top1']:.3f}" for s, r in results.items()))
        return

    keys = sequence_keys(cfg, data, cfg.data.test_subjects)
    model, result = evaluate_lifter(cfg, data, device, model_dir / "last.pt", keys, fix)
    np.save(out_dir / "predictions_3d.npy", result["predictions"].astype(np.float32))
    np.save(out_dir / "targets_3d.npy", result["targets"].astype(np.float32))
    table = {s: sorted({q for (s2, q, _) in keys if s2 == s}) for s in sorted({k[0] for k in keys})}
    index = result["index"].copy()  # (subject, sequence in `table`, camera, frame), as the 2D artifact
    index[:, 1] = [table[keys[k][0]].index(keys[k][1]) for k in index[:, 1]]
    np.save(out_dir / "index.npy", index.astype(np.int32))
    metrics = result["metrics"]
    write_csv(out_dir / "per_action.csv", ["action", "frames", "mpjpe_mm", "p_mpjpe_mm"],
              [[a, *metrics["per_action"][a].values()] for a in ACTIONS if a in metrics["per_action"]])
    if cfg.model_2D_dataset == "Probabilistic":
        metrics["monte_carlo"] = monte_carlo_spread(cfg, data, device, model, keys, result)
    metrics.update(train_source=train_tag, eval_source=cfg.model_2D_dataset, checkpoint=str(model_dir / "last.pt"),
                   sequences=table, units="predictions_3d.npy / targets_3d.npy: (N, 17, 3) camera frame, "
                                           "root-relative, metres")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    logger.info("GraphMLP %s on %s: P1 %.1f mm, P2 %.1f mm (action-wise)", train_tag, cfg.model_2D_dataset,
                metrics["mpjpe_mm"], metrics["p_mpjpe_mm"])


if __name__ == "__main__":
    run(main, reads=("model_2D_prediction", "model_2D_dataset", "model_3D_prediction", "noise_std", "data", "runtime",
                      "lifting", "action", "evaluate"))
