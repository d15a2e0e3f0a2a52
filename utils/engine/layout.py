"""The run layout: where every stage writes and where the next stage reads.

```
checkpoint/<experiment>/
  2d/<Hourglass|ViTPose>/                 model.pt, last.pt, config.yml, metrics.csv, curves.png
  2d/Probabilistic_<backbone>/            model.pt, last.pt (every covariance method in one), config.yml, …
  predictions/<source>/                   keypoints_2d.npy, covariance_2d.npy, index.npy, meta.json
  3d/<GraphMLP|SkateFormer>_<source>/     model.pt, last.pt, config.yml, metrics.csv, curves.png
                                          (+ _<input> for lifting.input / action.input ≠ xy: _xy_conf, _xy_cov)
  eval/<model>_<train source>_on_<eval source>/   metrics.json, per_action.csv, predictions_3d.npy
  figures/ …  report.md
```
Each ``*_dir`` function has a ``*_command`` twin: the command that creates what it points to,
used by the error message when something is missing. In every run folder ``model.pt`` and ``last.pt``
hold the last finished epoch (``utils.engine.training.fit``): no checkpoint is chosen on the test subjects.
"""
from __future__ import annotations

from pathlib import Path

RESUME_FILE = "last.pt"    # the full state of the last finished epoch: resume=true continues from it
WEIGHTS_FILE = "model.pt"  # the same epoch's weights alone: what the prediction stages load


def source_tag(source: str, noise_std: float = 0.0, input: str = "xy") -> str:
    """'GroundTruth' + noise 0.01 → 'GroundTruth_noise0.01' (the noise baseline gets its own runs); a downstream
    input other than xy (`lifting.input`, `action.input`) is appended: 'Probabilistic' + xy+cov → 'Probabilistic_xy_cov'."""
    tag = source if not noise_std else f"{source}_noise{noise_std:g}"
    return tag if input == "xy" else f"{tag}_{input.replace('+', '_')}"


def _dataset_suffix(cfg) -> str:
    """'' on Human3.6M; '_coco' / '_mpii' for a pre-training run (data.dataset), so it never overwrites the
    Human3.6M run of the same model."""
    return "" if cfg.data.dataset == "h36m" else f"_{cfg.data.dataset}"


def pose2d_dir(cfg, model: str) -> Path:
    return cfg.run_dir / "2d" / f"{model}{_dataset_suffix(cfg)}"


def pose2d_checkpoint(cfg, model: str) -> Path:
    """What get2Dpredictions.py loads: the last epoch's weights (model.pt), never a checkpoint chosen on validation."""
    return pose2d_dir(cfg, model) / WEIGHTS_FILE


def pose2d_command(model: str) -> str:
    return f"python train2D.py model_2D_prediction={model}"


def prob_dir(cfg, backbone: str) -> Path:
    return cfg.run_dir / "2d" / f"Probabilistic_{backbone}{_dataset_suffix(cfg)}"


def prob_init_checkpoint(cfg) -> Path | None:
    """The checkpoint `prob.init` names (None for random weights): `pose2d` is this run's own 2D model of the
    backbone (what train2D.py model_2D_prediction=<backbone> writes); anything else is a path (an official file
    or one of ours; relative to the repo)."""
    from config import resolve_path

    init = cfg.prob.init
    if init in ("", "random"):
        return None
    return pose2d_checkpoint(cfg, cfg.model_prob_pose) if init == "pose2d" else resolve_path(init)


def prob_command(backbone: str) -> str:
    return f"python train2D_prob_pose.py model_prob_pose={backbone}"


def prediction_dir(cfg, source: str) -> Path:
    return cfg.run_dir / "predictions" / source


def prediction_command(source: str) -> str:
    if source == "Probabilistic":
        return "python get2Dpredictions_prob_pose.py"
    return f"python get2Dpredictions.py model_2D_prediction={source}"


def downstream_dir(cfg, model: str, tag: str) -> Path:
    return cfg.run_dir / "3d" / f"{model}_{tag}"


def downstream_command(model: str, source: str, noise_std: float = 0.0, input: str = "xy") -> str:
    noise = f" noise_std={noise_std:g}" if noise_std else ""
    section = "action" if model == "SkateFormer" else "lifting"
    channels = f" {section}.input={input}" if input != "xy" else ""
    return f"python main.py model_3D_prediction={model} model_2D_prediction={source}{noise}{channels}"


def eval_dir(cfg, model: str, train_tag: str, eval_tag: str) -> Path:
    return cfg.run_dir / "eval" / f"{model}_{train_tag}_on_{eval_tag}"


def figures_dir(cfg) -> Path:
    return cfg.run_dir / "figures"
