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
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

from tqdm import tqdm

from config import load_config, split_argv
from utils.engine.cli import run
from utils.study.report import write_report
from utils.study.seeds import read_timings, seed_overrides, summed_timings
from utils.study.plan import Stage, is_stale, plan

logger = logging.getLogger("study")


def run_stage(stage: Stage, extra: list[str]) -> float:
    started = time.perf_counter()
    for script, args in stage.commands:
        is_script = script.endswith(".py")  # modules (data generator, inspect) take their own flags, not overrides
        cmd = [sys.executable, *([script] if is_script else ["-m", script]), *args, *(extra if is_script else [])]
        tqdm.write(f"$ {' '.join(cmd[1:])}")
        result = subprocess.run(cmd)
        if result.returncode != 0:
            raise SystemExit(f"error: stage '{stage.name}' failed at `{' '.join(cmd[1:])}` (exit {result.returncode}); "
                             f"fix it, then re-run `make demo` (finished stages are skipped)")
    return time.perf_counter() - started


def main(argv):
    config_file, overrides, flags = split_argv(argv)
    if flags - {"force"}:
        raise SystemExit(f"unknown flag(s) {sorted(flags - {'force'})}; valid: --force")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    cfg = load_config(overrides, config_file)
    config = [f"--config={config_file}"] if config_file else []
    stages = plan(cfg, overrides, config_file, force="force" in flags)
    if cfg.seeds and (cfg.run_dir / "2d").is_dir():
        logger.warning("%s also holds a single-seed run (2d/, …): its report.md, compare/ tables and timings.json "
                       "will describe the seeds' runs in seed<k>/; use experiment=<another name> to keep both",
                       cfg.run_dir)
    timings = {run: read_timings(run) for run in dict.fromkeys(s.run_dir for s in stages)}  # run folder → seconds
    todo = [s for s in stages if s.stale]
    estimate = sum(timings[s.run_dir].get(s.name, s.estimate_s) for s in todo)
    seeds = f"seeds {', '.join(map(str, cfg.seeds))}" if cfg.seeds else f"seed {cfg.seed}"
    logger.info("study '%s' (profile %s, %s): %d of %d stages to run, estimated %.0f min on this machine",
                cfg.experiment, cfg.profile, seeds, len(todo), len(stages), estimate / 60)
    bar = tqdm(stages, desc="study", unit="stage", dynamic_ncols=True)
    for stage in bar:
        bar.set_postfix_str(stage.label)
        if not ("force" in flags or is_stale(stage, stage.overrides, config_file)):
            tqdm.write(f"[skip] {stage.label}: up to date")
            continue
        timings[stage.run_dir][stage.name] = round(run_stage(stage, config + stage.overrides), 1)
        for marker in (p for p in stage.outputs if p.name == ".done"):
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        stage.run_dir.mkdir(parents=True, exist_ok=True)
        (stage.run_dir / "timings.json").write_text(json.dumps(timings[stage.run_dir], indent=1))
    if cfg.seeds:  # a report per seed, then the one over the seeds with each stage's seconds summed over them
        seed_dirs = []
        for _, run_overrides in seed_overrides(cfg, overrides):
            run_cfg = load_config(run_overrides, config_file)
            write_report(run_cfg, timings[run_cfg.run_dir])
            seed_dirs.append(run_cfg.run_dir)
        once = {s.name for s in stages if s.seed is None}
        timings[cfg.run_dir] = summed_timings({k: v for k, v in timings[cfg.run_dir].items() if k in once},
                                              [timings[d] for d in seed_dirs])
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        (cfg.run_dir / "timings.json").write_text(json.dumps(timings[cfg.run_dir], indent=1))
    report = write_report(cfg, timings[cfg.run_dir])
    logger.info("done: %s", report)


if __name__ == "__main__":
    run(main, reads=None, flags={"force": "redo every stage"})  # every key: the study runs every stage
