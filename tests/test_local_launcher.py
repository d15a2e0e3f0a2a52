"""study.py's local launcher (utils/study/launch.py: run_local, local_env) on stand-in stages: what runs, in which
order, how many at a time, and with how many threads."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from config import load_config
from tests.helpers import write_json
from utils.study import launch
from utils.study.job import record_seconds, stage_seconds
from utils.study.plan import Stage

# a stand-in stage command: records when it ran and the thread count it was given, then writes its output
MARK = """import json, os, sys, time
out, log = sys.argv[1], sys.argv[2]
start = time.time(); time.sleep(float(sys.argv[3]))
with open(log, "a") as f:
    f.write(json.dumps({"out": out, "start": start, "end": time.time(),
                        "threads": os.environ.get("OMP_NUM_THREADS")}) + "\\n")
open(out, "w").close()
"""


def _stage(tmp_path: Path, name: str, needs=(), up_to_date: bool = False, sleep: float = 0.0,
           estimate_s: float = 60.0) -> Stage:
    out = tmp_path / f"{name}.out"
    if up_to_date:
        out.touch()
    return Stage(name, [(str(tmp_path / "mark.py"), [str(out), str(tmp_path / "log.jsonl"), str(sleep)])],
                 outputs=[out], needs=list(needs), run_dir=tmp_path, estimate_s=estimate_s)


def _runs(tmp_path: Path) -> list[dict]:
    log = tmp_path / "log.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    (tmp_path / "mark.py").write_text(MARK)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TQDM_DISABLE"):
        monkeypatch.delenv(key, raising=False)
    return lambda jobs: load_config([f"output_root={tmp_path}", "profile=test", f"local_jobs={jobs}"])


def test_a_stale_stage_behind_up_to_date_ones_still_runs(tmp_path, cfg):
    # a → b → c with a and b up to date: skipping them makes c ready with nothing running
    stages = [_stage(tmp_path, "a", up_to_date=True), _stage(tmp_path, "b", ["a"], up_to_date=True),
              _stage(tmp_path, "c", ["b"])]
    launch.run_local(stages, cfg(1), None)
    assert [Path(r["out"]).stem for r in _runs(tmp_path)] == ["c"]


def test_local_jobs_runs_at_most_that_many_at_once_with_the_cores_split(tmp_path, cfg, monkeypatch):
    monkeypatch.setattr(launch.os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)
    # x and y wait for nothing, z waits for x: with two slots x and y start together, z after x
    stages = [_stage(tmp_path, "x", sleep=0.5), _stage(tmp_path, "y", sleep=1.5), _stage(tmp_path, "z", ["x"])]
    launch.run_local(stages, cfg(2), None)
    runs = {Path(r["out"]).stem: r for r in _runs(tmp_path)}
    assert set(runs) == {"x", "y", "z"}
    assert runs["y"]["start"] < runs["x"]["end"] and runs["x"]["start"] < runs["y"]["end"]  # side by side
    assert runs["z"]["start"] >= runs["x"]["end"]
    assert {r["threads"] for r in runs.values()} == {"2"}  # 4 cores, 2 jobs


def test_critical_path_is_the_longest_chain_from_each_stage(tmp_path):
    # a (10) → b (100) → d (1); a → c (5) → d; e (50) alone
    stages = [_stage(tmp_path, "a", estimate_s=10), _stage(tmp_path, "b", ["a"], estimate_s=100),
              _stage(tmp_path, "c", ["a"], estimate_s=5), _stage(tmp_path, "d", ["b", "c"], estimate_s=1),
              _stage(tmp_path, "e", estimate_s=50)]
    assert launch.critical_path(stages) == {"a": 111, "b": 101, "c": 6, "d": 1, "e": 50}


def test_a_free_slot_takes_the_stage_heading_the_longest_chain(tmp_path, cfg):
    # listed first, "short" heads a 10 s chain; "long" heads long → after (200 s): with one slot that chain goes first
    stages = [_stage(tmp_path, "short", estimate_s=10), _stage(tmp_path, "long", estimate_s=100),
              _stage(tmp_path, "after", ["long"], estimate_s=100)]
    launch.run_local(stages, cfg(1), None)
    assert [Path(r["out"]).stem for r in _runs(tmp_path)] == ["long", "after", "short"]


def test_local_env_splits_the_cores_and_keeps_what_the_user_set(monkeypatch):
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TQDM_DISABLE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(launch.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert launch.local_env(1) == {}  # one at a time: torch's own default
    assert launch.local_env(2) == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    assert launch.local_env(3)["OMP_NUM_THREADS"] == "1"  # never below one thread
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    assert "OMP_NUM_THREADS" not in launch.local_env(2)


def test_a_failed_stage_stops_what_waits_for_it(tmp_path, cfg):
    bad = Stage("bad", [(str(tmp_path / "fail.py"), [])], outputs=[tmp_path / "bad.out"], run_dir=tmp_path)
    (tmp_path / "fail.py").write_text("import sys; sys.exit(3)\n")
    stages = [bad, _stage(tmp_path, "after", ["bad"])]
    with pytest.raises(SystemExit, match="exit 3"):
        launch.run_local(stages, cfg(2), None)
    assert _runs(tmp_path) == []


def _seconds(tmp_path: Path) -> tuple[dict, dict]:
    """(timings.json, the seconds recorded per stage) of the stand-in run folder."""
    return json.loads((tmp_path / "timings.json").read_text()), stage_seconds(tmp_path)


def test_timings_keep_the_seconds_of_stages_skipped_as_up_to_date(tmp_path, cfg):
    # a and b add to one entry, as every downstream stage adds to the comparison's; c runs every time, as it does
    stages = [replace(_stage(tmp_path, "a", sleep=0.2), timing="phase"),
              replace(_stage(tmp_path, "b"), timing="phase"),
              replace(_stage(tmp_path, "c", ["a", "b"]), timing="phase", always=True)]
    launch.run_local(stages, cfg(2), None)
    timings, first = _seconds(tmp_path)
    assert set(first) == {"a", "b", "c"} and first["a"] >= 0.2
    assert timings == {"phase": pytest.approx(sum(first.values()), abs=0.15)}
    # a re-run redoes c alone: the entry still holds a's and b's seconds, not c's alone
    launch.run_local(stages, cfg(2), None)
    timings, again = _seconds(tmp_path)
    assert len(_runs(tmp_path)) == 4 and (again["a"], again["b"]) == (first["a"], first["b"])
    assert timings == {"phase": pytest.approx(sum(again.values()), abs=0.15)}
    # a stage the plan no longer has stops counting
    launch.run_local(stages[1:], cfg(2), None)
    timings, last = _seconds(tmp_path)
    assert set(last) == {"b", "c"} and timings == {"phase": pytest.approx(last["b"] + last["c"], abs=0.15)}


def test_a_running_or_failed_stage_has_no_seconds(tmp_path):
    record_seconds(tmp_path, "a", "phase", 2.0)
    record_seconds(tmp_path, "b", "phase", 3.0)
    record_seconds(tmp_path, "b", "phase", None)  # b started again (and failed, or is still running)
    assert json.loads((tmp_path / "timings.json").read_text()) == {"phase": 2.0}
    assert stage_seconds(tmp_path) == {"a": 2.0}
    record_seconds(tmp_path, "a", "phase", None)
    assert json.loads((tmp_path / "timings.json").read_text()) == {}


def test_the_estimate_takes_each_stage_from_its_last_run(tmp_path):
    a, b, c = (replace(_stage(tmp_path, name), timing="phase", estimate_s=60.0) for name in "abc")
    record_seconds(tmp_path, "a", "phase", 2.0)  # a ran here before; b and c never did
    write_json(tmp_path / "timings.json", {"phase": 2.0, "c": 7.0})  # c: an older run folder's own entry
    assert launch.estimated_seconds([a, b, c]) == 2.0 + 60.0 + 7.0
