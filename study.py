"""The whole study in one command (`make demo`): data, the 2D estimators, the probabilistic
estimator, 2D predictions, downstream models per source (incl. the noise baseline), the evaluation
matrix, action recognition, every figure, and checkpoint/<experiment>/report.md.

Each stage is the command a user would type (printed as it runs); a stage whose outputs are newer
than its inputs is skipped (--force redoes everything). Per-stage seconds go to timings.json, which
also gives the estimate printed at the start of the next run.

    python study.py                        # = make demo
    python study.py --force                # redo every stage
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
from utils.cli import run
from utils.report import write_report
from utils.study import Stage, is_stale, plan

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
    extra = ([f"--config={config_file}"] if config_file else []) + overrides
    stages = plan(cfg, overrides, config_file, force="force" in flags)
    timings_path = cfg.run_dir / "timings.json"
    previous = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    todo = [s for s in stages if s.stale]
    estimate = sum(previous.get(s.name, s.estimate_s) for s in todo)
    logger.info("study '%s' (profile %s): %d of %d stages to run, estimated %.0f min on this machine",
                cfg.experiment, cfg.profile, len(todo), len(stages), estimate / 60)
    timings = dict(previous)
    bar = tqdm(stages, desc="study", unit="stage", dynamic_ncols=True)
    for stage in bar:
        bar.set_postfix_str(stage.name)
        if not ("force" in flags or is_stale(stage, overrides, config_file)):
            tqdm.write(f"[skip] {stage.name}: up to date")
            continue
        timings[stage.name] = round(run_stage(stage, extra), 1)
        for marker in (p for p in stage.outputs if p.name == ".done"):
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        timings_path.write_text(json.dumps(timings, indent=1))
    report = write_report(cfg, timings)
    logger.info("done: %s", report)


if __name__ == "__main__":
    run(main)
