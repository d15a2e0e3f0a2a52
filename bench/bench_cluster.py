"""Expected GPU-hours of each study stage at `paper` settings on the real Human3.6M, from the FLOPs per sample
that bench_models counts (``count_flops``: one forward on the meta device) and the `paper` profile's epochs.

    python -m bench.bench_cluster                 # the table of the README's "Run on a SLURM cluster"
    python -m bench.bench_cluster --tflops 200    # another sustained throughput per GPU

A training sample costs 3 forwards (forward + backward); a 2D prediction with the flip test 2. Samples per epoch
come from the Human3.6M frame counts (50 Hz, four cameras): 1,559,752 training poses (S1 S5 S6 S7 S8) and
543,344 test poses (S9 S11), the counts the lifting literature reports for VideoPose3D's files. The result is
a lower bound for a GPU sustaining `tflops`: it leaves out data loading (what bounds GraphMLP in practice),
element-wise operations, validation and TIC's Jacobians.
"""
from __future__ import annotations

import sys

from config import load_config

TRAIN_POSES, TEST_POSES = 1_559_752, 543_344


def stage_flops(cfg) -> list[tuple[str, float, str]]:
    """(stage, FLOPs, how they were counted) of every GPU stage of one `paper` run."""
    from bench.bench_models import count_flops

    flops = {f: count_flops(f, p)["flops_per_sample"] for f, p in (
        ("ViTPose", cfg.pose2d.vitpose_preset), ("Hourglass", cfg.pose2d.hourglass_preset),
        ("GraphMLP", cfg.lifting.preset), ("SkateFormer", cfg.action.preset))}
    frames_2d = TRAIN_POSES // cfg.data.frame_stride
    every_frame = 2 * (TRAIN_POSES + TEST_POSES) if cfg.predict.flip_test else TRAIN_POSES + TEST_POSES
    rows = []
    for model, epochs in (("ViTPose", cfg.pose2d.epochs), ("Hourglass", cfg.pose2d.hourglass_epochs or cfg.pose2d.epochs)):
        rows.append((f"train 2D {model}", 3 * flops[model] * frames_2d * epochs,
                     f"{frames_2d:,} crops × {epochs} epochs"))
    methods = len(cfg.prob.methods)
    rows.append((f"train TIC-TAC {cfg.model_prob_pose}", 3 * flops[cfg.model_prob_pose] * frames_2d * cfg.prob.epochs
                 * methods, f"{methods} methods × {frames_2d:,} crops × {cfg.prob.epochs} epochs"))
    for model in ("Hourglass", "ViTPose", "Probabilistic"):
        rows.append((f"predict 2D {model}", flops[cfg.model_prob_pose if model == "Probabilistic" else model]
                     * every_frame, f"{every_frame:,} forwards (every frame{', flip test' if cfg.predict.flip_test else ''})"))
    windows = TRAIN_POSES // cfg.lifting.train_stride
    rows.append(("train GraphMLP on <source> (each)", 3 * flops["GraphMLP"] * windows * cfg.lifting.epochs,
                 f"{windows:,} windows × {cfg.lifting.epochs} epochs"))
    xsub, xview = TRAIN_POSES // cfg.action.clip_stride, (TRAIN_POSES + TEST_POSES) // 2 // cfg.action.clip_stride
    rows.append(("train SkateFormer on <source> (each)", 3 * flops["SkateFormer"] * (xsub + xview) * cfg.action.epochs,
                 f"({xsub:,} X-sub + {xview:,} X-view clips) × {cfg.action.epochs} epochs"))
    return rows


def main(argv: list[str]) -> None:
    tflops = float(argv[argv.index("--tflops") + 1]) if "--tflops" in argv else 125.0
    cfg = load_config(["profile=paper"])
    lines = [f"GPU-hours at {tflops:g} TFLOP/s sustained per GPU (profile paper):", "",
             "| stage | FLOPs | GPU-hours | counted as |", "|---|---|---|---|"]
    for stage, flops, how in stage_flops(cfg):
        lines.append(f"| {stage} | {flops:.2e} | {flops / (tflops * 1e12) / 3600:.1f} | {how} |")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
