"""Shared helpers of the tests: a tiny data root, stage runs as subprocesses (or in this process, which
saves the ~3 s torch import per run), run-folder snapshots, metrics files read back and written by hand.

Every stage runs with the `test` profile on the tiny synthetic root (S1 train, S9 test, 24 frames
per sequence); GraphMLP runs use one action, two cameras and batches of 8: an epoch is 12 steps.
"""
from __future__ import annotations

import contextlib
import csv
import importlib
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAGE_TIMEOUT = 300  # s; a stage here takes seconds, a hang must not block the suite

# A single-threaded, quiet child: 2 cores are shared by the parent, torchrun's ranks and loaders.
CHILD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"}


def make_tiny_root(path: Path) -> Path:
    """The tiny synthetic root: S1 and S9, four actions (Walking among them), 24 frames per sequence."""
    from dataloader.synthetic.generate import generate

    return Path(generate(path, profile="tiny"))


EXPERIMENT = "robustness"  # runs go to <output_root>/robustness/


def base_overrides(root: Path, out: Path) -> list[str]:
    """Overrides every stage run here shares: tiny data, test profile, no DataLoader workers."""
    return ["profile=test", f"data.root={root}", f"output_root={out}", f"experiment={EXPERIMENT}",
            "data.train_subjects=[S1]", "data.test_subjects=[S9]", "data.num_workers=0",
            "pose2d.max_train_items=32", "pose2d.max_val_items=16"]


# Every setting a test counts on is pinned here, not taken from the `test` profile or configuration.yml.
# GraphMLP on ground truth: 2 sequences × 2 cameras × 24 frames = 96 items, 12 steps of 8 per epoch.
GRAPHMLP = ["model_3D_prediction=GraphMLP", "model_2D_prediction=GroundTruth", "data.actions=[Walking]",
            "data.cameras=[0, 1]", "lifting.preset=tiny", "lifting.batch_size=8", "lifting.epochs=3",
            "noise_std=0.0", "lifting.train_stride=1"]
GRAPHMLP_STEPS = 3 * 12
# ViTPose tiny64, 1 epoch of 32 crops (4 steps of 8), 16 validation crops.
VITPOSE = ["model_2D_prediction=ViTPose", "pose2d.vitpose_preset=tiny64", "pose2d.epochs=1", "pose2d.batch_size=8"]


def graphmlp_dir(out: Path) -> Path:
    return Path(out) / EXPERIMENT / "3d" / "GraphMLP_GroundTruth"


def vitpose_dir(out: Path) -> Path:
    return Path(out) / EXPERIMENT / "2d" / "ViTPose"


def _env() -> dict:
    env = {**os.environ, **CHILD_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def stage_command(script: str, overrides: list[str], nproc: int = 1) -> list[str]:
    """`python script …`, or `python -m torch.distributed.run --nproc_per_node=N --standalone script …`
    (the venv's torchrun: sys.executable is the venv's python)."""
    if nproc > 1:
        return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--standalone",
                script, *overrides]
    return [sys.executable, script, *overrides]


def run_stage(script: str, overrides: list[str], nproc: int = 1,
              timeout: float = STAGE_TIMEOUT) -> tuple[int, str, str]:
    """Run a stage script as a subprocess in the repository; returns (returncode, stdout, stderr)."""
    proc = subprocess.run(stage_command(script, overrides, nproc), cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def start_stage(script: str, overrides: list[str], log: Path) -> subprocess.Popen:
    """Start a stage script without waiting (for kill tests); stdout and stderr go to the file `log`
    (a pipe nobody reads could fill up and stall the child)."""
    with open(log, "w") as fh:
        return subprocess.Popen(stage_command(script, overrides), cwd=REPO, env=_env(), stdout=fh,
                                stderr=subprocess.STDOUT)


def call_stage(script: str, overrides: list[str]) -> tuple[int, str, str]:
    """Run a stage's `main` in this process through utils.engine.cli.call, the code path of `run` minus the
    process exit; returns (status, stdout, stderr) as `run_stage` does.

    For runs that end within seconds (the bad-input cases, the small prediction of a shared fixture):
    they then cost no torch import.
    """
    from utils.engine.checkpoint import rng_state, set_rng_state
    from utils.engine.cli import call

    module = importlib.import_module(Path(script).stem)
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers, level, rng = list(root.handlers), root.level, rng_state()
    try:  # setup() seeds the global RNGs and configures the root logger: undo both afterwards
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = call(module.main, list(overrides))
    finally:
        root.handlers[:], root.level = handlers, level
        set_rng_state(rng)
    return status, out.getvalue(), err.getvalue()


def write_csv(path: Path, rows: list[dict]) -> None:
    """A metrics.csv by the writer the training loop uses, its header the first row's keys."""
    from utils.engine.files import write_csv as write_rows

    write_rows(path, list(rows[0]), rows)


def write_json(path: Path, data) -> None:
    """`data` as JSON at `path`, its folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """relative path → (size, mtime_ns) of every file under `folder` (directories are not outputs)."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def read_metrics(path: Path, ignore: tuple[str, ...] = ("seconds",)) -> list[dict[str, str]]:
    """Rows of a metrics.csv as strings (exact: the CSV holds each float's shortest repr), minus `ignore`."""
    with open(path, newline="") as fh:
        return [{k: v for k, v in row.items() if k not in ignore} for row in csv.DictReader(fh)]


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
