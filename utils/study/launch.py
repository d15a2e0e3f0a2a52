"""How study.py runs its stages (`launcher`): here, N independent stages at a time (`local`, `local_jobs`), or
one job per stage through submitit, on SLURM with afterok dependencies that mirror the stage graph (`slurm`) or
through submitit's local executor (`submitit_local`: the same jobs on this machine, each started when the
stages it waits for are done, since the local executor has no dependencies).

A stage's job (utils/study/job.py) runs the stage's commands as the user would type them, training scripts under
torchrun with the GPUs per node of `slurm.<kind>.gpus` on SLURM. A job that is preempted or reaches its time
limit gets submitit's signal: its `checkpoint` hands submitit the same job with `resume=true`, starting at the
command it was running, and submitit requeues it; the training resumes from `last.pt` (every finished epoch is
in it). Each job writes its state to `<jobs folder>/state/<stage>.json`, and study.py the job ids it submitted
to `<run dir>/jobs.json`: `python study.py --status` reads both.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from config import REPO_ROOT
from utils.study.job import StageJob, keep_seconds, slug, stage_seconds
from utils.study.plan import Stage, is_stale
from utils.study.seeds import read_timings

logger = logging.getLogger("study")

JOBS_FILE = "jobs.json"   # <run dir>/jobs.json: stage label → {job_id, launcher, folder}, written by study.py
ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED", "RESIZING", "REQUEUE_HOLD",
          "REQUEUE_FED"}  # SLURM states of a job that will still run: not resubmitted, its dependants wait on it
TRAINING_KINDS = ("train_2d", "train_prob", "train_downstream")


def jobs_folder(cfg) -> Path:
    from config import resolve_path
    return resolve_path(cfg.slurm.folder) if cfg.slurm.folder else cfg.run_dir / "jobs"


def forget_unplanned_seconds(stages: list[Stage]) -> None:
    """Each run folder's timings.json keeps the seconds of the stages the study still has (utils/study/job.py)."""
    labels: dict[Path, set[str]] = {}
    for stage in stages:
        labels.setdefault(stage.run_dir, set()).add(stage.label)
    for run_dir, kept in labels.items():
        keep_seconds(run_dir, kept)


def stage_job(stage: Stage, cfg, config_file, extra_gpus: int = 0) -> StageJob:
    """The job of a stage: each command with the run's overrides; a training under torchrun when `extra_gpus` > 1."""
    config = [f"--config={config_file}"] if config_file else []
    commands = []
    for script, args in stage.commands:
        if script.endswith(".py"):
            launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={extra_gpus}"] \
                if extra_gpus > 1 and stage.kind in TRAINING_KINDS else [sys.executable]
            commands.append([*launch, script, *args, *config, *stage.overrides])
        else:  # modules (data generator, inspect) take their own flags, not overrides
            commands.append([sys.executable, "-m", script, *args])
    return StageJob(stage.label, commands, markers=[str(p) for p in stage.outputs if p.name.startswith(".done")],
                    run_dir=str(stage.run_dir), timing=stage.timing or stage.name,
                    state_dir=str(jobs_folder(cfg) / "state"))


def report_job(cfg, overrides: list[str], config_file) -> StageJob:
    """The last job: report.md (and the report over the seeds) once every stage is done."""
    config = [f"--config={config_file}"] if config_file else []
    return StageJob("report", [[sys.executable, "study.py", "--report", *config, *overrides]],
                    state_dir=str(jobs_folder(cfg) / "state"))


# --- running here: N at a time -------------------------------------------------------------

def local_env(local_jobs: int) -> dict[str, str]:
    """The environment of each stage when `local_jobs` stages share this machine: its cores split between them
    (OMP/MKL threads = cores // local_jobs, at least 1) and no per-batch progress bars (N bars would overwrite
    each other; the study's bar and each stage's log lines remain). A variable the user set is kept. With one job
    at a time nothing changes: torch uses every core.

    Small models (GraphMLP, SkateFormer, the tiny 2D presets) use a second thread poorly: two single-thread stages
    side by side do 1.8× the work of one stage on two threads (README, "Two stages at a time on a laptop")."""
    if local_jobs <= 1:
        return {}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = str(max(1, cores // local_jobs))
    wanted = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "TQDM_DISABLE": "1"}
    return {k: v for k, v in wanted.items() if k not in os.environ}


def critical_path(stages: list[Stage]) -> dict[str, float]:
    """Each stage's label → the estimated seconds of the longest chain that starts with it (its own `estimate_s`
    plus the longest chain of the stages that wait for it). `stages` lists every stage after those it needs.

    With several stages ready and one free slot, the one heading the longest chain goes first: in the quick study
    that is the TIC-TAC training (then the Probabilistic prediction and the lifters on it), not the ViTPose
    prediction that plan order would start first."""
    waiting: dict[str, list[str]] = {s.label: [] for s in stages}
    for stage in stages:
        for need in stage.needs:
            if need in waiting:
                waiting[need].append(stage.label)
    remaining: dict[str, float] = {}
    for stage in reversed(stages):
        remaining[stage.label] = stage.estimate_s + max((remaining[w] for w in waiting[stage.label]), default=0.0)
    return remaining


def estimated_seconds(stages: list[Stage]) -> float:
    """The seconds the stages will take, one at a time: each stage's seconds when it last ran in its run folder, else
    its timings.json entry when that is its own (the 2D stages), else its `estimate_s`."""
    runs = dict.fromkeys(s.run_dir for s in stages)
    recorded = {run: stage_seconds(run) for run in runs}
    timings = {run: read_timings(run) for run in runs}
    return sum(recorded[s.run_dir].get(s.label, timings[s.run_dir].get(s.name, s.estimate_s)) for s in stages)


def run_local(stages: list[Stage], cfg, config_file, force: bool = False) -> None:
    """Every stage in graph order, `local_jobs` at a time: a stage starts once the stages it waits for are done,
    and is skipped when up to date at that moment. The first failure lets the running stages finish, starts
    nothing new, and ends the study with the failed stage's command."""
    done: set[str] = set()
    pending = list(stages)
    remaining = critical_path(stages)
    running = {}
    failed: list[str] = []
    forget_unplanned_seconds(stages)
    bar = tqdm(total=len(stages), desc="study", unit="stage", dynamic_ncols=True)
    with ThreadPoolExecutor(max_workers=cfg.local_jobs) as pool:
        while pending or running:
            scan = True
            while scan:  # a skipped stage can make the stages after it ready at once: scan again
                scan = False
                ready = [s for s in pending if not failed and all(n in done for n in s.needs)]
                for stage in sorted(ready, key=lambda s: -remaining[s.label]):  # stable: ties keep plan order
                    if len(running) >= cfg.local_jobs:  # a free slot takes the ready stage with the longest chain
                        break                            # ahead of it (ViTPose → TIC-TAC → its prediction → …)
                    pending.remove(stage)
                    if not (force or is_stale(stage, stage.overrides, config_file)):
                        tqdm.write(f"[skip] {stage.label}: up to date")
                        done.add(stage.label)
                        bar.update()
                        scan = True
                        continue
                    bar.set_postfix_str(stage.label)
                    job = replace(stage_job(stage, cfg, config_file), own_group=False, state_dir="",
                                  env=local_env(cfg.local_jobs))
                    running[pool.submit(job)] = stage
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                stage = running.pop(future)
                try:
                    future.result()
                    done.add(stage.label)
                except RuntimeError as err:
                    failed.append(str(err))
                bar.update()
    bar.close()
    if failed:
        raise SystemExit(f"error: {failed[0]}; fix it, then re-run study.py (finished stages are skipped)")


# --- submitit ------------------------------------------------------------------------------

def _resources(cfg, kind: str):
    return getattr(cfg.slurm, kind)


def executor(cfg, launcher: str):
    import submitit

    folder = jobs_folder(cfg) / "%j"
    if launcher == "slurm":
        try:
            return submitit.SlurmExecutor(folder=folder, max_num_timeout=cfg.slurm.max_requeues)
        except RuntimeError as err:  # no srun on PATH
            raise SystemExit(f"error: launcher=slurm needs SLURM's sbatch and srun on PATH ({err}); run study.py on "
                             "the cluster's login node, or choose launcher=local") from None
    return submitit.LocalExecutor(folder=folder)


def _parameters(cfg, launcher: str, kind: str, label: str, after: list[str]) -> dict:
    res = _resources(cfg, kind)
    if launcher != "slurm":
        return {"timeout_min": res.time_min, "gpus_per_node": 0}
    params = {"job_name": f"{cfg.experiment}:{label}"[:120], "time": res.time_min, "nodes": 1, "ntasks_per_node": 1,
              "cpus_per_task": res.cpus, "mem": f"{res.mem_gb}GB", "signal_delay_s": 120,
              "setup": [f"cd {REPO_ROOT}", f"export PYTHONPATH={REPO_ROOT}${{PYTHONPATH:+:$PYTHONPATH}}"],
              "additional_parameters": {"kill-on-invalid-dep": "yes"}}
    if res.gpus:
        params["gpus_per_node"] = res.gpus
    if cfg.slurm.partition:
        params["partition"] = cfg.slurm.partition
    if cfg.slurm.account:
        params["account"] = cfg.slurm.account
    if after:
        params["dependency"] = "afterok:" + ":".join(after)
    return params


def read_jobs(cfg) -> dict:
    path = cfg.run_dir / JOBS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _write_jobs(cfg, jobs: dict) -> None:
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    (cfg.run_dir / JOBS_FILE).write_text(json.dumps(jobs, indent=1))


def job_state(cfg, label: str, record: dict | None) -> str:
    """A submitted job's state: SLURM's (sacct, through submitit) while it knows the job, else what the job wrote."""
    if not record:
        return ""
    state = ""
    if record.get("launcher") == "slurm":
        try:
            import submitit
            state = submitit.SlurmJob(folder=record["folder"], job_id=record["job_id"]).state
        except Exception:  # noqa: BLE001 — no sacct here (another machine): fall back on the job's own record
            state = ""
        state = "" if state == "UNKNOWN" else state.split()[0] if state else ""
    if not state:
        path = jobs_folder(cfg) / "state" / f"{slug(label)}.json"
        if path.is_file():
            written = json.loads(path.read_text())
            if str(written.get("job_id")) == str(record["job_id"]):
                state = written["state"]
        state = state or ("PENDING" if record.get("launcher") == "slurm" else "UNKNOWN")
    return state


def to_submit(stages: list[Stage], config_file, force: bool = False) -> list[Stage]:
    """The stages a submission runs: those out of date (or whose inputs an out-of-date stage rewrites), and with
    them the stages that run every time (inspect, the comparison); none when nothing else is out of date (the
    comparison rewriting its tables does not make the figures out of date here)."""
    produced: set[Path] = set()
    todo = set()
    for stage in stages:
        if not stage.always and (force or is_stale(stage, stage.overrides, config_file)
                                 or any(p in produced for p in stage.inputs)):
            todo.add(stage.label)
            produced.update(stage.outputs)
    return [s for s in stages if s.label in todo or (todo and s.always)]


def submit(stages: list[Stage], cfg, overrides: list[str], config_file, launcher: str, force: bool = False) -> dict:
    """Submit every stale stage as a job (an active job from an earlier submission is kept, not resubmitted), then the
    report. `slurm`: all at once, each with afterok on the jobs of the stages it waits for; `submitit_local`: each
    when the stages it waits for are done (the local executor has no dependencies), `local_jobs` at a time.
    Returns the jobs file's content (stage label → job)."""
    jobs = read_jobs(cfg)
    todo = to_submit(stages, config_file, force)
    if not todo:
        tqdm.write("every stage is up to date: nothing to submit")
        return jobs
    folder = str(jobs_folder(cfg) / "%j")  # submitit's folder of each job (%j: its id)
    ex = executor(cfg, launcher)
    forget_unplanned_seconds(stages)
    if launcher == "slurm":
        ids: dict[str, str] = {}
        for stage in todo:
            record = jobs.get(stage.label)
            state = job_state(cfg, stage.label, record)
            if state in ACTIVE:
                ids[stage.label] = record["job_id"]
                tqdm.write(f"[keep] {stage.label}: job {record['job_id']} {state}")
                continue
            ex.update_parameters(**_parameters(cfg, launcher, stage.kind, stage.label,
                                               [ids[n] for n in stage.needs if n in ids]))
            job = ex.submit(stage_job(stage, cfg, config_file, _resources(cfg, stage.kind).gpus))
            ids[stage.label] = job.job_id
            jobs[stage.label] = {"job_id": job.job_id, "launcher": launcher, "folder": folder}
            tqdm.write(f"[submitted] {stage.label}: job {job.job_id}"
                       + (f" after {', '.join(n for n in stage.needs if n in ids)}" if stage.needs else ""))
        ex.update_parameters(**_parameters(cfg, launcher, "cpu", "report", list(dict.fromkeys(ids.values()))))
        job = ex.submit(report_job(cfg, overrides, config_file))
        jobs["report"] = {"job_id": job.job_id, "launcher": launcher, "folder": folder}
        tqdm.write(f"[submitted] report: job {job.job_id}")
        _write_jobs(cfg, jobs)
        return jobs
    # submitit_local: start each job when its needs are done
    labels = {s.label for s in todo}
    done: set[str] = set()
    running: dict = {}
    pending = list(todo)
    while pending or running:
        for stage in [s for s in pending if all(n in done or n not in labels for n in s.needs)]:
            if len(running) >= cfg.local_jobs:
                break
            pending.remove(stage)
            ex.update_parameters(**_parameters(cfg, launcher, stage.kind, stage.label, []))
            job = ex.submit(replace(stage_job(stage, cfg, config_file), env=local_env(cfg.local_jobs)))
            running[stage.label] = job
            jobs[stage.label] = {"job_id": job.job_id, "launcher": launcher, "folder": folder}
            _write_jobs(cfg, jobs)
            tqdm.write(f"[submitted] {stage.label}: job {job.job_id}")
        for label, job in list(running.items()):
            if job.done():
                del running[label]
                try:
                    job.result()
                except Exception as err:  # noqa: BLE001 — submitit re-raises the job's error with its traceback
                    for other in running.values():
                        other.cancel()
                    raise SystemExit(f"error: stage '{label}' failed (job {job.job_id}, log {job.paths.stderr}): "
                                     f"{str(err).strip().splitlines()[-1]}; fix it, then re-run study.py") from None
                done.add(label)
        time.sleep(0.2)
    ex.update_parameters(**_parameters(cfg, launcher, "cpu", "report", []))
    job = ex.submit(report_job(cfg, overrides, config_file))
    jobs["report"] = {"job_id": job.job_id, "launcher": launcher, "folder": folder}
    _write_jobs(cfg, jobs)
    job.result()
    return jobs


# --- --status ------------------------------------------------------------------------------

def status_rows(stages: list[Stage], cfg, config_file=None) -> list[tuple[str, str, str, str]]:
    """(stage, job id, state, output) of every stage: 'up to date' when its outputs are current, else the state of
    the job that last ran it ('not run' without one)."""
    jobs = read_jobs(cfg)
    stale = {s.label for s in to_submit(stages, config_file)}
    rows = []
    for stage in stages + [Stage("report", [], [cfg.run_dir / "report.md"], always=True, stale=True)]:
        record = jobs.get(stage.label)
        state = job_state(cfg, stage.label, record)
        if not stage.always and stage.label not in stale:
            state = "up to date"
        elif not record:
            state = "runs every time" if stage.always and not stage.outputs else "not run"
        output = str(stage.outputs[0]) if stage.outputs else "–"
        rows.append((stage.label, record["job_id"] if record else "–", state, output))
    return rows


def status_table(rows: list[tuple[str, str, str, str]]) -> str:
    heads = ("stage", "job", "state", "output")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(heads), *(line(r) for r in rows)])
