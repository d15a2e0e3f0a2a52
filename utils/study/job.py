"""One stage of the study as a job (:class:`StageJob`): its commands run in order, then its `.done` markers and
its seconds in `<run dir>/timings.json`, its state in `<jobs folder>/state/<stage>.json` (`study.py --status`).

The same object runs a stage in study.py's threads (`launcher=local`) and in a submitit job (`slurm`,
`submitit_local`), where submitit unpickles it in a fresh Python process. This module therefore imports the
standard library, tqdm, config and utils.engine.files only (no torch, no model code): a job starts its first command within a second
instead of spending seconds on imports its commands repeat.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm import tqdm

from config import REPO_ROOT
from utils.engine.files import atomic_open


def slug(label: str) -> str:
    return re.sub(r"[^\w.-]+", "_", label).strip("_")


@dataclass
class StageJob:
    """One stage as a job: its commands in order, then its `.done` markers and its seconds in timings.json."""
    label: str
    commands: list[list[str]]            # argv of each command (python or torchrun first)
    markers: list[str] = field(default_factory=list)   # `.done*` files to touch once every command succeeded
    run_dir: str = ""                    # the run folder whose timings.json gets the seconds
    timing: str = ""                     # the timings.json entry (several stages may share one: their sum)
    state_dir: str = ""                  # where the job writes its state (`--status`); "" = nowhere
    start: int = 0                       # the first command to run (a requeued job starts where it stopped)
    attempt: int = 1
    current: int = 0
    own_group: bool = True               # each command in its own process group, ended with the job (False: the
                                         # study's threads, where Ctrl-C reaches the commands directly)
    env: dict[str, str] = field(default_factory=dict)  # added to the environment of every command (thread counts)

    def __call__(self) -> float:
        started = time.perf_counter()
        self._state("RUNNING")
        if self.run_dir:
            record_seconds(Path(self.run_dir), self.label, self.timing or self.label, None)
        for i in range(self.start, len(self.commands)):
            self.current = i
            cmd = self.commands[i]
            tqdm.write(f"$ {' '.join(_shown(cmd))}")
            code = _run(cmd, self.own_group, self.env)
            if code != 0:
                self._state("FAILED", exit_code=code, command=" ".join(_shown(cmd)))
                raise RuntimeError(f"stage '{self.label}' failed at `{' '.join(_shown(cmd))}` (exit {code})")
        for marker in map(Path, self.markers):
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        seconds = round(time.perf_counter() - started, 1)
        if self.run_dir:
            record_seconds(Path(self.run_dir), self.label, self.timing or self.label, seconds)
        self._state("COMPLETED", seconds=seconds)
        return seconds

    def checkpoint(self, *args, **kwargs):
        """submitit calls this on preemption or at the time limit: the same stage, from the command it was running,
        with `resume=true` on every script (training continues from last.pt)."""
        import submitit

        self._state("REQUEUED")
        commands = [c if "resume=true" in c or not _is_script(c) else [*c, "resume=true"] for c in self.commands]
        return submitit.helpers.DelayedSubmission(replace(self, commands=commands, start=self.current,
                                                          attempt=self.attempt + 1))

    def _state(self, state: str, **extra) -> None:
        if not self.state_dir:
            return
        job_id = os.environ.get("SLURM_JOB_ID") or os.environ.get("SUBMITIT_LOCAL_JOB_ID") or str(os.getpid())
        with atomic_open(Path(self.state_dir) / f"{slug(self.label)}.json") as fh:
            json.dump({"label": self.label, "state": state, "job_id": job_id, "pid": os.getpid(),
                       "attempt": self.attempt, "time": time.strftime("%Y-%m-%d %H:%M:%S"), **extra}, fh)


def _is_script(cmd: list[str]) -> bool:
    return any(a.endswith(".py") for a in cmd[1:3]) or "torch.distributed.run" in cmd


def _shown(cmd: list[str]) -> list[str]:
    return ["python", *cmd[1:]] if cmd and cmd[0] == sys.executable else cmd


def _run(cmd: list[str], own_group: bool = True, env: dict[str, str] | None = None) -> int:
    """Run one command (in its own process group): whatever interrupts the job (submitit's requeue) ends it too."""
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, start_new_session=own_group,
                            env={**os.environ, **env} if env else None)
    try:
        return proc.wait()
    except BaseException:
        if not own_group:
            proc.kill()
            proc.wait()
            raise
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise


STAGE_SECONDS = ".timings_stages.json"  # <run dir>/: stage label → [timings.json entry, seconds or null]


def record_seconds(run_dir: Path, label: str, entry: str, seconds: float | None) -> None:
    """Record the seconds of the stage `label` (None: it is running again, its earlier seconds no longer count) and
    rewrite run_dir/timings.json, each entry the sum of its stages' recorded seconds.

    Several stages share an entry (every downstream training and evaluation with the comparison's). A stage skipped
    as up to date keeps the seconds of the run that made its outputs: a re-run that redoes only the comparison still
    shows what the downstream phase cost, not the comparison's seconds alone. Under a lock: the jobs of one run
    folder finish concurrently."""
    with _locked(run_dir):
        stages = _read_json(run_dir / STAGE_SECONDS)
        stages[label] = [entry, None if seconds is None else round(seconds, 1)]
        _write_timings(run_dir, stages)


def keep_seconds(run_dir: Path, labels: set[str]) -> None:
    """Forget the recorded seconds of every stage not in `labels` (the study's plan no longer has it: a source taken
    out of the comparison) and rewrite run_dir/timings.json."""
    if not (run_dir / STAGE_SECONDS).is_file():
        return
    with _locked(run_dir):
        stages = _read_json(run_dir / STAGE_SECONDS)
        _write_timings(run_dir, {k: v for k, v in stages.items() if k in labels})


def stage_seconds(run_dir: Path) -> dict[str, float]:
    """Stage label → its last recorded seconds in run_dir (stages that never finished there are absent)."""
    stages = _read_json(Path(run_dir) / STAGE_SECONDS)
    return {label: seconds for label, (_, seconds) in stages.items() if seconds is not None}


@contextmanager
def _locked(run_dir: Path):
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "timings.json.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _write_timings(run_dir: Path, stages: dict[str, list]) -> None:
    timings: dict[str, float] = {}
    for entry, seconds in stages.values():
        if seconds is not None:
            timings[entry] = round(timings.get(entry, 0.0) + seconds, 1)
    for name, content in ((STAGE_SECONDS, stages), ("timings.json", timings)):
        with atomic_open(run_dir / name) as fh:
            json.dump(content, fh, indent=1)
