"""Stage 5: the cross-source comparison. Trains and evaluates what is missing (or only collects what
exists, with --collect-only), then writes the train-source × eval-source tables for P1/P2, the
noise-baseline table and the action-recognition table as markdown + CSV + heatmap figures in
checkpoint/<experiment>/compare/.

    python compare.py                       # run what is missing, then tabulate
    python compare.py --collect-only        # only tabulate existing evaluations
    python compare.py --force lifting.epochs=10

Every run is the same command a user would type (printed as it starts), so any cell can be redone
by hand. A run is skipped when its output is newer than its inputs (--force redoes it).
"""
from __future__ import annotations

import json
import logging
import sys
import time

from config import load_config, split_argv
from get3Dprediction import main as evaluate_main
from main import main as train_main
from utils.cli import call, run
from utils.comparison import collect_tables, planned_runs

logger = logging.getLogger("compare")


def execute(commands: list[tuple[str, list[str]]], overrides: list[str], config_file) -> None:
    """Run each stage in this process (importing torch once instead of ~50 times), as if typed by hand."""
    extra = ([f"--config={config_file}"] if config_file else []) + overrides
    stages = {"main.py": train_main, "get3Dprediction.py": evaluate_main}
    for i, (script, args) in enumerate(commands, 1):
        argv = [*args, *extra]
        logger.info("[%d/%d] python %s %s", i, len(commands), script, " ".join(argv))
        started = time.perf_counter()
        if call(stages[script], argv) != 0:
            raise SystemExit(f"error: `python {script} {' '.join(argv)}` failed; fix it and re-run compare.py")
        logger.info("    done in %.0f s", time.perf_counter() - started)


def main(argv):
    config_file, overrides, flags = split_argv(argv)
    unknown = flags - {"collect-only", "force"}
    if unknown:
        raise SystemExit(f"unknown flag(s) {sorted(unknown)}; valid: --collect-only, --force")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    cfg = load_config(overrides, config_file)
    if "collect-only" not in flags:
        commands, missing = planned_runs(cfg, force="force" in flags)
        for source, command in missing:
            logger.warning("no 2D predictions for %s: its cells stay empty (create them with `%s`)", source, command)
        execute(commands, overrides, config_file)
    out_dir = cfg.run_dir / "compare"
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = collect_tables(cfg, out_dir)
    (out_dir / "tables.md").write_text(tables["markdown"])
    (out_dir / "tables.json").write_text(json.dumps(tables["data"], indent=1))
    sys.stdout.write(tables["markdown"] + "\n")
    logger.info("tables written to %s", out_dir)


if __name__ == "__main__":
    run(main)
