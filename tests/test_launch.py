"""study.py's launchers (utils/study/launch.py): `launcher=slurm` against a stand-in `sbatch` (and `sacct`) on PATH
that records every submission, the whole study through submitit's local executor, `--status`, and a job that
is interrupted mid-training, requeued by submitit and resumed from last.pt."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import CHILD_ENV, GRAPHMLP, REPO, base_overrides, graphmlp_dir, read_metrics

submitit = pytest.importorskip("submitit")

SBATCH = """#!/bin/sh
# stand-in sbatch: records the submission (its arguments and the #SBATCH lines of the script), prints a job id
log="{log}"
n=$(( $(cat "$log.count" 2>/dev/null || echo 100) + 1 )); echo $n > "$log.count"
for a in "$@"; do script="$a"; done
echo "=== $n" >> "$log"; grep '^#SBATCH' "$script" >> "$log"
echo "Submitted batch job $n"
"""
SACCT = """#!/bin/sh
# stand-in sacct: every job is PENDING unless {states} gives it another state ('<id> <STATE>' lines)
echo "JobID|State|NodeList"
for a in "$@"; do case "$a" in [0-9]*) s=$(awk -v j="$a" '$1 == j {{print $2}}' "{states}" 2>/dev/null);
  echo "$a|${{s:-PENDING}}|node1";; esac; done
"""


def _bin(tmp_path: Path) -> tuple[Path, Path, dict]:
    bin_dir, log, states = tmp_path / "bin", tmp_path / "sbatch.log", tmp_path / "states.txt"
    bin_dir.mkdir()
    for name, text in (("sbatch", SBATCH.format(log=log)), ("sacct", SACCT.format(states=states)),
                       ("srun", "#!/bin/sh\nexit 1\n")):  # submitit looks for srun; nothing here runs a job
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, **CHILD_ENV, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    return log, states, env


def _study(args: list[str], env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "study.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def _submissions(log: Path) -> dict[str, list[str]]:
    """job id → its #SBATCH lines."""
    jobs, current = {}, None
    for line in log.read_text().splitlines():
        if line.startswith("=== "):
            current = line[4:]
            jobs[current] = []
        else:
            jobs[current].append(line)
    return jobs


def _option(lines: list[str], key: str) -> str | None:
    return next((ln.split("=", 1)[1] for ln in lines if ln.startswith(f"#SBATCH --{key}=")), None)


def test_slurm_submits_every_stage_with_afterok_on_the_stages_it_waits_for(tiny_root, tmp_path):
    log, states, env = _bin(tmp_path)
    args = base_overrides(tiny_root, tmp_path / "out") + ["launcher=slurm", "slurm.partition=gpu",
                                                          "slurm.train_2d.gpus=4", "slurm.train_2d.time_min=600"]
    proc = _study(args, env)
    out = proc.stdout + proc.stderr
    jobs = json.loads((tmp_path / "out" / "robustness" / "jobs.json").read_text())
    submitted = _submissions(log)
    from config import load_config
    from utils.study.plan import stage_graph

    graph = stage_graph(load_config(args), args)
    assert set(jobs) == set(graph) | {"report"} and len(submitted) == len(graph) + 1  # data root exists: no data stage
    for stage, needs in graph.items():
        lines = submitted[jobs[stage]["job_id"]]
        expected = ":".join(jobs[n]["job_id"] for n in needs)
        assert _option(lines, "dependency") == (f"afterok:{expected}" if needs else None), stage
        assert _option(lines, "partition") == "gpu" and _option(lines, "kill-on-invalid-dep") == "yes"
    assert _option(submitted[jobs["report"]["job_id"]], "dependency").count(":") == len(graph)
    vit = submitted[jobs["train 2D ViTPose"]["job_id"]]
    assert (_option(vit, "gpus-per-node"), _option(vit, "time"), _option(vit, "signal")) == ("4", "600", "USR2@120")
    assert _option(submitted[jobs["inspect"]["job_id"]], "gpus-per-node") is None  # a CPU job
    # the training runs under torchrun with the GPUs per node; a requeue adds resume=true
    job = submitit.SlurmJob(folder=jobs["train 2D ViTPose"]["folder"], job_id=jobs["train 2D ViTPose"]["job_id"])
    delayed = submitit.helpers.DelayedSubmission.load(job.paths.submitted_pickle)
    command = delayed.function.commands[0]
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4"]
    assert command[5] == "train2D.py" and "model_2D_prediction=ViTPose" in command
    assert delayed.function.checkpoint().function.commands[0][-1] == "resume=true"
    assert "[submitted] predict 2D ViTPose" in out

    # --status: every stage with its job and state (sacct says PENDING)
    status = _study(["--status", *args], env).stdout.splitlines()
    assert status[0].split() == ["stage", "job", "state", "output"] and len(status) == len(graph) + 2
    row = next(r for r in status if r.startswith("predict 2D ViTPose "))
    assert row.split()[3:5] == [jobs["predict 2D ViTPose"]["job_id"], "PENDING"]

    # a re-run keeps the active jobs and resubmits what failed, and what SLURM cancelled after it
    failed = ["train 2D Hourglass", "predict 2D Hourglass"]
    states.write_text("".join(f"{jobs[s]['job_id']} {st}\n" for s, st in zip(failed, ("FAILED", "CANCELLED"))))
    _study(args, env)
    again = json.loads((tmp_path / "out" / "robustness" / "jobs.json").read_text())
    changed = {s for s in graph if again[s]["job_id"] != jobs[s]["job_id"]}
    assert changed == set(failed)
    assert _option(_submissions(log)[again["predict 2D Hourglass"]["job_id"]], "dependency") \
        == f"afterok:{again['train 2D Hourglass']['job_id']}"
    waiting = _submissions(log)[again["train 2D Hourglass"]["job_id"]]  # waits for the kept inspect job
    assert _option(waiting, "dependency") == f"afterok:{jobs['inspect']['job_id']}"


STUDY = ["experiment=local", "data.actions=[Walking]", "data.cameras=[0, 1]", "pose2d.max_train_items=16",
         "pose2d.max_val_items=8", "prob.methods=[TIC]", "prob.export_method=TIC", "lifting.epochs=1",
         "action.epochs=1", "compare.sources=[GroundTruth, Probabilistic]",
         "compare.action_sources=[GroundTruth]", "compare.noise_stds=[]", "compare.matched_noise=false",
         "evaluate.num_samples=2", "vis.max_frames=2", "vis.num_samples=1", "vis.pose_samples=1", "vis.dpi=40"]


def test_the_study_through_submitits_local_executor(tiny_root, tmp_path):
    env = {**os.environ, **CHILD_ENV, "PYTHONPATH": str(REPO)}
    args = ["profile=test", f"data.root={tiny_root}", f"output_root={tmp_path}", "data.train_subjects=[S1]",
            "data.test_subjects=[S9]", "data.num_workers=0", *STUDY, "launcher=submitit_local", "local_jobs=2"]
    _study(args, env, timeout=1500)
    run = tmp_path / "local"
    jobs = json.loads((run / "jobs.json").read_text())
    states = {p.stem: json.loads(p.read_text()) for p in (run / "jobs" / "state").glob("*.json")}
    assert len(states) == len(jobs) >= 15 and all(s["state"] == "COMPLETED" for s in states.values())
    report = (run / "report.md").read_text()
    assert "2D→3D lifting" in report and "Action recognition" in report
    timings = json.loads((run / "timings.json").read_text())
    assert {"train 2D ViTPose", "predict 2D Probabilistic", "downstream + comparison", "figures"} <= set(timings)
    status = _study(["--status", *args], env).stdout.splitlines()
    rows = {re.split(r"\s{2,}", r)[0]: re.split(r"\s{2,}", r) for r in status[1:]}
    lifter, last = "train GraphMLP on Probabilistic", run / "3d" / "GraphMLP_Probabilistic" / "last.pt"
    assert rows[lifter][1:] == [jobs[lifter]["job_id"], "up to date", str(last)]
    assert rows["figures"][2:] == ["up to date", str(run / "figures" / ".done")]
    # a second run finds every stage up to date and submits nothing
    again = _study(args, env)
    assert "nothing to submit" in again.stdout and "[submitted]" not in again.stdout


def _epochs(path: Path) -> int:
    return max(0, len(path.read_text().splitlines()) - 1) if path.is_file() else 0


def test_an_interrupted_training_job_is_requeued_and_resumes_from_last_pt(tiny_root, tmp_path):
    from utils.engine.checkpoint import load_checkpoint
    from utils.study.job import StageJob

    out = tmp_path / "out"
    run = graphmlp_dir(out)
    command = [sys.executable, "main.py", *base_overrides(tiny_root, out), *GRAPHMLP, "lifting.epochs=40"]
    job_fn = StageJob("train GraphMLP on GroundTruth", [command], state_dir=str(tmp_path / "state"))
    executor = submitit.LocalExecutor(folder=tmp_path / "jobs" / "%j")
    executor.update_parameters(timeout_min=30)
    for key, value in CHILD_ENV.items():
        os.environ.setdefault(key, value)
    job = executor.submit(job_fn)
    start = time.monotonic()
    while _epochs(run / "metrics.csv") < 2:  # two finished epochs in last.pt
        assert not job.done(), job.stderr()
        assert time.monotonic() - start < 240
        time.sleep(0.05)
    state_file = tmp_path / "state" / "train_GraphMLP_on_GroundTruth.json"
    finished = load_checkpoint(run / "last.pt")["epoch"]  # epochs in last.pt (replaced by a rename: safe to read)
    # what SLURM sends the job's task before a preemption or the time limit (--signal=USR2@…)
    os.kill(json.loads(state_file.read_text())["pid"], signal.SIGUSR2)
    job.result()
    log = job.stdout() + job.stderr()
    assert "Requeued job" in log, log[-3000:]
    resumed = re.findall(r"resumed \S+ from \S+ at epoch (\d+)", log)
    assert resumed and int(resumed[0]) >= finished >= 1, log[-3000:]  # no finished epoch is lost
    rows = read_metrics(run / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(1, 41))
    state = json.loads(state_file.read_text())
    assert (state["state"], state["attempt"]) == ("COMPLETED", 2)
