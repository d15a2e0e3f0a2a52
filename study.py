"""The whole study in one command (`make demo`): data, the 2D estimators, the probabilistic
estimator, 2D predictions, downstream models per source (incl. the noise baseline), the evaluation
matrix, action recognition, every figure, and checkpoint/<experiment>/report.md.

Each stage is the command a user would type (printed as it runs); a stage whose outputs are newer
than its inputs is skipped (--force redoes everything). Per-stage seconds go to timings.json, which
also gives the estimate printed at the start of the next run.

With `seeds=0,1,2` every stage after the data runs once per seed into checkpoint/<experiment>/seed<k>/
(each a complete single-seed run with its own report.md), and checkpoint/<experiment>/report.md shows
every cell as mean ± sd over the seeds (utils/study/seeds.py); its timings.json sums each stage over the seeds.

    python study.py                        # = make demo
    python study.py --force                # redo every stage
    python study.py seeds=0,1,2            # three seeds, one report of mean ± sd (= make demo ARGS=seeds=0,1,2)
    python study.py profile=test …         # any configuration override is passed to every stage
    python study.py local_jobs=2           # independent stages two at a time on this machine
    python study.py launcher=slurm profile=paper   # every stage a SLURM job (submitit), afterok dependencies
    python study.py --status …             # every stage: job id, state, output (with the same overrides)

The stages and the stages each waits for: utils/study/plan.py (`stage_graph`); how they run: utils/study/launch.py.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from config import load_config, split_argv
from utils.engine.cli import run
from utils.engine.files import atomic_open
from utils.study.launch import estimated_seconds, run_local, status_rows, status_table, submit
from utils.study.plan import Stage, plan
from utils.study.report import write_report
from utils.study.seeds import read_timings, seed_overrides, summed_timings

logger = logging.getLogger("study")


FLAGS = {"force": "redo every stage", "status": "list every stage with its job id, state and output; run nothing",
         "report": "only write report.md from what the stages wrote (the last job of a submitted study)"}


def write_reports(cfg, overrides: list[str], config_file, stages: list[Stage]) -> Path:
    """report.md of the run (with `seeds`: of each seed, then over the seeds with each stage's seconds summed)."""
    timings = {run: read_timings(run) for run in dict.fromkeys([cfg.run_dir] + [s.run_dir for s in stages])}
    if cfg.seeds:
        seed_dirs = []
        for _, run_overrides in seed_overrides(cfg, overrides):
            run_cfg = load_config(run_overrides, config_file)
            write_report(run_cfg, timings[run_cfg.run_dir])
            seed_dirs.append(run_cfg.run_dir)
        once = {s.name for s in stages if s.seed is None}
        timings[cfg.run_dir] = summed_timings({k: v for k, v in timings[cfg.run_dir].items() if k in once},
                                              [timings[d] for d in seed_dirs])
        with atomic_open(cfg.run_dir / "timings.json") as fh:
            json.dump(timings[cfg.run_dir], fh, indent=1)
    return write_report(cfg, timings[cfg.run_dir])


def main(argv):
    config_file, overrides, flags = split_argv(argv)
    if flags - set(FLAGS):
        raise SystemExit(f"unknown flag(s) {sorted(flags - set(FLAGS))}; valid: {', '.join('--' + f for f in FLAGS)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    cfg = load_config(overrides, config_file)
    stages = plan(cfg, overrides, config_file, force="force" in flags)
    if "status" in flags:
        sys.stdout.write(status_table(status_rows(stages, cfg, config_file)) + "\n")
        return
    if "report" in flags:
        logger.info("done: %s", write_reports(cfg, overrides, config_file, stages))
        return
    if cfg.seeds and (cfg.run_dir / "2d").is_dir():
        logger.warning("%s also holds a single-seed run (2d/, …): its report.md, compare/ tables and timings.json "
                       "will describe the seeds' runs in seed<k>/; use experiment=<another name> to keep both",
                       cfg.run_dir)
    todo = [s for s in stages if s.stale]
    estimate = estimated_seconds(todo)
    seeds = f"seeds {', '.join(map(str, cfg.seeds))}" if cfg.seeds else f"seed {cfg.seed}"
    logger.info("study '%s' (profile %s, %s, launcher %s): %d of %d stages to run, estimated %.0f min on this machine",
                cfg.experiment, cfg.profile, seeds, cfg.launcher, len(todo), len(stages), estimate / 60)
    if cfg.launcher != "local":
        submit(stages, cfg, overrides, config_file, cfg.launcher, force="force" in flags)
        if cfg.launcher == "slurm":
            logger.info("submitted; `python study.py --status%s` shows every stage's job and state",
                        "".join(f" {o}" for o in overrides))
        return
    run_local(stages, cfg, config_file, force="force" in flags)
    logger.info("done: %s", write_reports(cfg, overrides, config_file, stages))


if __name__ == "__main__":
    run(main, reads=None, flags=FLAGS)  # every key: the study runs every stage
