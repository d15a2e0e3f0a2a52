"""Stage 5: the cross-source comparison. Trains and evaluates what is missing (or only collects what
exists, with --collect-only), computes the trivial baselines from the data (compare/baselines.json:
mean pose in the box, mean training 3D pose, chance and majority class; utils/study/baselines.py) and each
2D artifact's error per joint (compare/joints2d.json, utils/study/joints2d.py), then
writes the train-source × eval-source tables for P1/P2, the noise-baseline table, the Monte-Carlo
table with its 3D calibration figure and the action-recognition table as markdown + CSV + figures in
checkpoint/<experiment>/compare/, every cell that does not beat its baseline by 2× marked †.

Rows and columns: `compare.sources` (lifting) and `compare.action_sources` (action; empty = the same),
including the sources that isolate the covariance: ProbabilisticMean (the Probabilistic means, no
sampling) and GroundTruthCov (GroundTruth+Σ: ground truth + N(0, Σ) of the same frame). The noise
baseline trains on `compare.noise_stds` plus, with `compare.matched_noise`, the Probabilistic
artifact's mean marginal σ in the same normalised units.

    python compare.py                       # run what is missing, then tabulate
    python compare.py --collect-only        # only tabulate existing evaluations
    python compare.py --force lifting.epochs=10
    python compare.py --evaluate-only model_3D_prediction=GraphMLP model_2D_prediction=ViTPose noise_std=0
                                            # only the evaluations of one trained model (a study.py stage)
    python compare.py --matched-only        # only the row of the matched noise level: its training and
                                            # evaluations (a study.py stage, beside the other rows)

Every run is the same command a user would type (printed as it starts), so any cell can be redone
by hand. A run is skipped when its output is newer than its inputs (--force redoes it).
"""
from __future__ import annotations

import importlib
import json
import logging
import sys
import time

from config import load_config, split_argv
from dataloader.reader import DataError, load_human36m
from utils.engine.cli import call, run
from utils.stages.downstream import input_mode
from utils.study import joints2d
from utils.study.baselines import compute_baselines
from utils.study.comparison import BASELINES_FILE, collect_tables, matched_noise, planned_runs, read_baselines

logger = logging.getLogger("compare")


def execute(commands: list[tuple[str, list[str]]], overrides: list[str], config_file) -> None:
    """Run each stage in this process (importing torch once instead of ~50 times), as if typed by hand.

    A stage script is loaded by its file name when its first command comes, as `python script.py` would;
    nothing in the package imports a stage script.
    """
    extra = ([f"--config={config_file}"] if config_file else []) + overrides
    for i, (script, args) in enumerate(commands, 1):
        argv = [*args, *extra]
        logger.info("[%d/%d] python %s %s", i, len(commands), script, " ".join(argv))
        started = time.perf_counter()
        if call(importlib.import_module(script.removesuffix(".py")).main, argv) != 0:
            raise SystemExit(f"error: `python {script} {' '.join(argv)}` failed; fix it and re-run compare.py")
        logger.info("    done in %.0f s", time.perf_counter() - started)


def main(argv):
    config_file, overrides, flags = split_argv(argv)
    unknown = flags - {"collect-only", "force", "evaluate-only", "matched-only"}
    if unknown:
        raise SystemExit(f"unknown flag(s) {sorted(unknown)}; valid: --collect-only, --evaluate-only, --matched-only, "
                         "--force")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    cfg = load_config(overrides, config_file)
    if "evaluate-only" in flags:  # one row's evaluations: the trained model of these keys on every column
        row = (cfg.model_3D_prediction, cfg.model_2D_prediction, cfg.noise_std, input_mode(cfg))
        commands, _ = planned_runs(cfg, force="force" in flags, only=row, train=False)
        execute(commands, overrides, config_file)
        return
    matched = matched_noise(cfg)
    if matched:
        logger.info("noise level matched to the Probabilistic σ: %.3g normalised (%.1f px)",
                    matched["noise_std"], matched["sigma_px"])
    if "matched-only" in flags:  # the matched level's row: known only once the Probabilistic artifact exists
        if matched is None:
            logger.info("no matched noise level (compare.matched_noise is off, or no Probabilistic covariance yet)")
            return
        row = ("GraphMLP", "GroundTruth", matched["noise_std"], "xy")
        commands, _ = planned_runs(cfg, force="force" in flags, matched=matched, only=row)
        execute(commands, overrides, config_file)
        return
    if "collect-only" not in flags:
        commands, missing = planned_runs(cfg, force="force" in flags, matched=matched)
        for source, command in missing:
            logger.warning("no 2D predictions for %s: its cells stay empty (create them with `%s`)", source, command)
        execute(commands, overrides, config_file)
    out_dir = cfg.run_dir / "compare"
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        data = load_human36m(cfg.data_root, cfg.data.frame_template,
                             subjects=list(cfg.data.train_subjects) + list(cfg.data.test_subjects),
                             actions=cfg.data.actions or None)
        baselines = compute_baselines(cfg, data)
        (out_dir / BASELINES_FILE).write_text(json.dumps(baselines, indent=1))
        mean_pose = baselines["pose2d"]["boxes"]["keypoints"]["mean_pose"]
        (out_dir / joints2d.FILE).write_text(json.dumps(joints2d.joint_errors(cfg, data, mean_pose), indent=1))
    except DataError as err:  # --collect-only on results without their data: keep the baselines already written
        baselines = read_baselines(out_dir)
        logger.warning("baselines not recomputed (%s); %s", err,
                       "using the existing compare/baselines.json" if baselines else "the tables carry no baseline")
    tables = collect_tables(cfg, out_dir, baselines, matched=matched)
    (out_dir / "tables.md").write_text(tables["markdown"])
    (out_dir / "tables.json").write_text(json.dumps(tables["data"], indent=1))
    sys.stdout.write(tables["markdown"] + "\n")
    logger.info("tables written to %s", out_dir)


if __name__ == "__main__":
    run(main, reads=("model_3D_prediction", "data", "runtime", "lifting", "action", "evaluate", "compare"),
        flags={"collect-only": "only tabulate the evaluations that exist",
               "evaluate-only": "only evaluate the model of model_3D_prediction, model_2D_prediction and noise_std "
                                "on every evaluation source (no training, no tables)",
               "matched-only": "only train and evaluate the noise level matched to the Probabilistic σ (no tables)",
               "force": "redo the runs whose outputs are up to date"})
