"""Evaluation of the downstream models on a 2D source (used by get3Dprediction.py and compare.py)."""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from dataloader.action_dataset import ActionClipDataset, split_keys
from dataloader.h36m import ACTIONS, ROOT
from dataloader.lifting_dataset import LiftingDataset
from dataloader.loaders import make_loader
from dataloader.sources import build_source
from models.registry import family
from utils.stages import downstream
from utils.engine import layout
from utils.artifact import ArtifactError
from utils.engine.checkpoint import CheckpointError, load_checkpoint
from utils.metrics import action_wise_average, leave_one_out_calibration, mpjpe, p_mpjpe

logger = logging.getLogger(__name__)


def load_downstream(path: Path, name: str, fix: str, device: torch.device):
    """Rebuild a downstream model from its checkpoint alone (kwargs are stored in it)."""
    if not Path(path).is_file():
        raise CheckpointError(f"downstream checkpoint {path} not found; {fix}")
    ckpt = load_checkpoint(path, expect_model=name)
    model = family(name).model_class()(**ckpt["model_kwargs"])
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), ckpt


@torch.no_grad()
def _predict(model, loader, test_flip: bool, device, desc: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    preds, targets, index, actions = [], [], [], []
    for batch in tqdm(loader, desc=desc, leave=False, dynamic_ncols=True):
        preds.append(downstream.predict_3d(model, batch["inputs"].to(device), test_flip).float().cpu())
        targets.append(batch["target"])
        index.append(batch["index"])
        actions.append(batch["action"])
    return (torch.cat(preds).numpy(), torch.cat(targets).numpy(), torch.cat(index).numpy(), torch.cat(actions).numpy())


def lifting_metrics(pred: np.ndarray, target: np.ndarray, actions: np.ndarray) -> dict:
    """P1/P2 in mm: action-wise (VideoPose3D convention, :func:`utils.metrics.action_wise_average`) and
    frame-weighted, plus per action. pred, target (N, J, 3) metres; actions (N,) labels."""
    e1 = mpjpe(pred, target, reduction="none") * 1000
    e2 = p_mpjpe(pred, target, reduction="none") * 1000
    p1, per_action_1 = action_wise_average(e1, actions)
    p2, per_action_2 = action_wise_average(e2, actions)
    labels, counts = np.unique(actions, return_counts=True)
    per_action = {ACTIONS[a]: {"frames": int(n), "mpjpe_mm": per_action_1[a], "p_mpjpe_mm": per_action_2[a]}
                  for a, n in zip(labels.tolist(), counts)}
    return {
        "mpjpe_mm": p1,
        "p_mpjpe_mm": p2,
        "mpjpe_mm_frame_weighted": float(e1.mean()),
        "p_mpjpe_mm_frame_weighted": float(e2.mean()),
        "frames": int(len(e1)),
        "per_action": per_action,
    }


def evaluate_lifter(cfg, data, device, ckpt_path: Path, keys, fix: str):
    model, ckpt = load_downstream(ckpt_path, "GraphMLP", fix, device)
    frames = ckpt["model_kwargs"]["frames"]
    # a Probabilistic source is read once with its covariance factors: the Monte-Carlo pass reuses it
    sampled = build_source(cfg, data, keys, cfg.model_2D_dataset, sample=cfg.model_2D_dataset == "Probabilistic")
    if cfg.model_2D_dataset == "Probabilistic" and sampled.cholesky is None:  # a deterministic artifact there
        raise ArtifactError(f"the Probabilistic 2D artifact {layout.prediction_dir(cfg, 'Probabilistic')} has no "
                            f"covariance; create it with `{layout.prediction_command('Probabilistic')}`")
    source = dataclasses.replace(sampled, cholesky=None)  # the evaluation itself reads the means
    mode = downstream.checkpoint_input_mode(ckpt["model_kwargs"])  # the source is read with the trained channels
    dataset = LiftingDataset(data, keys, source, frames, input_mode=mode)
    loader = make_loader(dataset, batch_size=cfg.evaluate.batch_size, shuffle=False, num_workers=cfg.data.num_workers,
                         seed=cfg.seed, device=device)
    pred, target, index, actions = _predict(model, loader, cfg.lifting.test_flip, device, "evaluate")
    return model, {"predictions": pred, "targets": target, "index": index, "actions": actions,
                   "metrics": lifting_metrics(pred, target, actions), "frames": frames, "source": sampled,
                   "input_mode": mode}


def monte_carlo_statistics(samples: np.ndarray, prediction: np.ndarray, target: np.ndarray,
                           actions: np.ndarray) -> dict:
    """Statistics of K lifted Monte-Carlo samples against the lift of the mean 2D and the ground truth.

    Args:
        samples: (K, N, J, 3) lifted samples; prediction: (N, J, 3) the lift of the mean 2D; target: (N, J, 3);
            root-relative metres. actions: (N,) action labels.
    Returns:
        mean_spread_mm: RMS distance of the samples from their mean per (frame, joint), averaged over frames
        and the non-root joints (mm); spread_error_correlation: Pearson r over (frame, non-root joint) between
        that spread and the error of `prediction` (the root is excluded: its spread and error are both 0
        by construction, pairs that alone would make r positive); mpjpe_of_sample_mean_mm: P1 of the
        mean of the samples, action-wise as the evaluation's P1 (and frame-weighted); calibration: cGNF's
        quantile calibration of the non-root joints (:func:`utils.metrics.leave_one_out_calibration`;
        None below 3 samples).
    """
    joints = [j for j in range(target.shape[-2]) if j != ROOT]
    spread = np.sqrt(((samples - samples.mean(0)) ** 2).sum(-1).mean(0)) * 1000   # (N, J) mm
    error = np.linalg.norm(prediction - target, axis=-1) * 1000                   # (N, J) mm
    s, e = spread[:, joints].ravel(), error[:, joints].ravel()
    corr = float(np.corrcoef(s, e)[0, 1]) if s.std() > 0 and e.std() > 0 else float("nan")
    of_mean = lifting_metrics(samples.mean(0), target, actions)
    return {"num_samples": int(len(samples)), "mean_spread_mm": float(s.mean()),
            "per_joint_spread_mm": spread.mean(0).round(2).tolist(),
            "spread_error_correlation": corr,
            "mpjpe_of_sample_mean_mm": of_mean["mpjpe_mm"],
            "mpjpe_of_sample_mean_mm_frame_weighted": of_mean["mpjpe_mm_frame_weighted"],
            "calibration": (leave_one_out_calibration(samples[:, :, joints], target[:, joints])
                            if len(samples) >= 3 else None)}  # leave-one-out needs ≥ 3 samples


def monte_carlo_spread(cfg, data, device, model, keys, result: dict) -> dict:
    """Push `evaluate.num_samples` samples of the probabilistic 2D through the lifter and summarise them
    (:func:`monte_carlo_statistics`)."""
    source = result["source"]  # evaluate_lifter's Probabilistic source, with its Cholesky factors
    if source.cholesky is None:
        raise ValueError("monte_carlo_spread takes the result of evaluate_lifter on the Probabilistic source")
    samples = []
    for k in range(cfg.evaluate.num_samples):
        dataset = LiftingDataset(data, keys, source, result["frames"], seed=cfg.seed + 1 + k,
                                 input_mode=result.get("input_mode", "xy"))
        loader = make_loader(dataset, batch_size=cfg.evaluate.batch_size, shuffle=False,
                             num_workers=cfg.data.num_workers, seed=cfg.seed, device=device)
        samples.append(_predict(model, loader, cfg.lifting.test_flip, device, f"sample {k + 1}")[0])
    return monte_carlo_statistics(np.stack(samples), result["predictions"], result["targets"], result["actions"])


@torch.no_grad()
def evaluate_actions(cfg, data, device, ckpt_path: Path, split: str, fix: str) -> dict:
    model, ckpt = load_downstream(ckpt_path, "SkateFormer", fix, device)
    keys = downstream.sequence_keys(cfg, data, list(cfg.data.train_subjects) + list(cfg.data.test_subjects))
    _, test_keys = split_keys(keys, split, cfg.data.train_subjects, cfg.data.test_subjects)
    source = build_source(cfg, data, test_keys, cfg.model_2D_dataset, sample=False)
    dataset = ActionClipDataset(data, test_keys, source, ckpt["model_kwargs"]["num_frames"], cfg.action.clip_stride,
                                input_mode=downstream.checkpoint_input_mode(ckpt["model_kwargs"]))
    loader = make_loader(dataset, batch_size=cfg.evaluate.batch_size, shuffle=False, num_workers=cfg.data.num_workers,
                         seed=cfg.seed, device=device)
    correct, labels = [], []
    for batch in tqdm(loader, desc=f"evaluate {split}", leave=False, dynamic_ncols=True):
        logits = model(downstream.to_skateformer_input(batch["inputs"].to(device)), batch["index_t"].to(device))
        correct.append((logits.argmax(1).cpu() == batch["label"]).numpy())
        labels.append(batch["label"].numpy())
    correct, labels = np.concatenate(correct), np.concatenate(labels)
    per_class = {ACTIONS[a]: float(correct[labels == a].mean()) for a in np.unique(labels)}
    return {"top1": float(correct.mean()), "clips": int(len(correct)), "per_class_top1": per_class,
            "chance": 1.0 / len(ACTIONS)}

