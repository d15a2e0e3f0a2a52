"""`make bench`: every bench function runs at tiny sizes and returns well-formed rows.

No assertion is about speed (timings on a shared CPU are not reproducible); the checks are the row
format, the numbers' consistency (ratio = measured / baseline), parameter counts derived by hand, and
the plumbing (time budgets, child processes and their time limit, the tiny-root fallback, the output file).
"""
import json
import math

import numpy as np
import pytest
import torch

from bench import COLUMNS, Row, fmt_rate, fmt_ratio, goal_text, markdown_table, timed
from bench.bench_data import (bench_action_loader, bench_crop_loader, bench_lifting_loader, find_or_make_root,
                              load_train_data, probabilistic_like, sequence_keys)
from bench.bench_demo import bench_demo
from bench.bench_models import (CPU_PRESETS, bench_channels_last, bench_model, bench_optimizer, bench_size, count_flops,
                                measure_in_child)
from config import load_config


def assert_well_formed(rows, group=None):
    assert rows and all(isinstance(r, Row) for r in rows)
    for row in rows:
        cells = row.cells()
        assert len(cells) == len(COLUMNS) and all(isinstance(c, str) for c in cells)
        assert row.group and row.benchmark and row.measured
        assert all(isinstance(v, (int, float)) for v in row.numbers.values())
        if group is not None:
            assert row.group == group
    table = markdown_table(rows).splitlines()
    assert len(table) == len(rows) + 2 and all(line.count(" | ") == len(COLUMNS) - 1 for line in table[2:])


# --- shared helpers ---------------------------------------------------------------------------

def test_timed_runs_warmup_then_repeats_and_stops_at_the_budget():
    calls = []
    _, n = timed(lambda: calls.append(1), repeats=4, warmup=2, budget_s=100.0)
    assert (n, len(calls)) == (4, 6)
    calls.clear()
    _, n = timed(lambda: calls.append(1), repeats=50, warmup=1, budget_s=0.0, min_repeats=3)
    assert (n, len(calls)) == (3, 4)  # budget spent at once: the minimum of 3 timed calls, plus the warm-up


def test_formatting_and_markdown_escaping():
    assert fmt_rate(12345.6, " items/s") == "12.3k items/s"
    assert fmt_rate(None) == "n/a" and fmt_rate(float("nan")) == "n/a"
    assert fmt_ratio(19.25) == "19.2×" and fmt_ratio(None) == "n/a"
    assert goal_text(120.0, 100) == "≥ 100×: met" and goal_text(19.0, 100) == "≥ 100×: NOT met"
    assert goal_text(None, 1) == "≥ 1×: n/a"
    table = markdown_table([Row(group="g", benchmark="a | b", measured="1")])
    assert "a \\| b" in table and table.splitlines()[0] == "| " + " | ".join(COLUMNS) + " |"


# --- TIC-TAC ----------------------------------------------------------------------------------

def test_tictac_rows_are_well_formed_and_agree_with_the_loops():
    from bench.__main__ import tictac_rows

    rows = tictac_rows(tac_n=8, tic_batch=2)
    assert_well_formed(rows)
    assert [r.group for r in rows] == ["TAC", "TIC"]
    for row in rows:
        n = row.numbers
        assert n["ratio"] == pytest.approx(n["baseline_s"] / n["fast_s"])
        assert n["max_abs_diff"] <= 1e-6 * max(n["max_abs_reference"], 1.0)  # same values as the reference loop


# --- models -----------------------------------------------------------------------------------

# models.md (tiny CPU presets) and the presets' comments, with J = 17
PARAMS = {("ViTPose", "tiny"): 202_289, ("ViTPose", "tiny64"): 63_137, ("Hourglass", "tiny"): 148_450,
          ("Hourglass", "tiny128"): 148_450,
          ("GraphMLP", "tiny"): 28_045}


@pytest.mark.parametrize("family, preset", CPU_PRESETS)
def test_bench_model_rows_without_compile(family, preset):
    rows = bench_model(family, preset, batch=2, compile_timeout_s=None, budget_s=0.0)
    assert_well_formed(rows, group="model")
    assert len(rows) == 2 and "forward" in rows[0].benchmark and "training step" in rows[1].benchmark
    for row in rows:
        assert row.measured == "n/a (not attempted)" and math.isnan(row.numbers["compiled_sps"])
        assert row.numbers["eager_sps"] > 0 and row.numbers["batch"] == 2 and row.numbers["flops_per_sample"] > 0
        if (family, preset) in PARAMS:
            assert row.numbers["params"] == PARAMS[family, preset]


def test_flops_on_the_meta_device_are_the_cpu_count_plus_attention():
    from torch.utils.flop_counter import FlopCounterMode

    from bench.bench_models import build_model

    model, inputs = build_model("ViTPose", "tiny64")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(*inputs(1))
    # On the CPU, scaled_dot_product_attention runs a fused kernel the counter does not see; on the meta
    # device it runs as matmuls. tiny64: N = (64/16)·(48/16) = 12 tokens, width 32 (heads × head dim), 2 blocks,
    # Q Kᵀ and A V each 2·N·N·32 FLOPs per block.
    attention = 2 * 2 * (2 * 12 * 12 * 32)
    assert count_flops("ViTPose", "tiny64")["flops_per_sample"] == counter.get_total_flops() + attention


def test_official_size_row():
    row = bench_size("GraphMLP", "T243")
    assert_well_formed([row], group="model size")
    assert row.numbers["params"] == 9_738_886  # models.md, GraphMLP T243 with the 17-joint graph
    assert row.numbers["flops_per_sample"] > count_flops("GraphMLP", "tiny27")["flops_per_sample"]


def test_fused_optimizer_row():
    row = bench_optimizer("GraphMLP", "tiny", batch=4, repeats=3)
    assert_well_formed([row], group="model")
    assert row.numbers["fused_s"] > 0 and row.numbers["foreach_s"] > 0
    assert row.ratio == fmt_ratio(row.numbers["foreach_s"] / row.numbers["fused_s"])


def test_child_protocol_prints_one_json_line_per_phase(capsys):
    from bench.bench_models import _child

    _child(["--measure", "GraphMLP", "tiny", "2", "--threads", "1", "--budget", "0", "--phases", "train", "forward"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rates = [sorted(k for k in line if k.endswith("_sps")) for line in lines]
    assert rates == [["train_sps"], ["forward_sps", "train_sps"]]
    assert lines[-1]["batch"] == 2 and lines[-1]["train_repeats"] >= 3


def test_child_process_is_stopped_at_its_time_limit(tmp_path, monkeypatch):
    from bench import bench_models

    result, reason = measure_in_child("GraphMLP", "tiny", 2, timeout_s=0.5, budget_s=0.0)
    assert result == {} and reason == "timing > 0.5 s limit"
    # a compile killed at its limit empties the bench's own inductor cache (a truncated kernel may be left)
    cache = tmp_path / "inductor"
    (cache / "xy").mkdir(parents=True)
    (cache / "xy" / "kernel.so").write_bytes(b"")
    monkeypatch.setattr(bench_models, "INDUCTOR_CACHE", cache)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "default"))  # as torch sets it on first use
    _, reason = measure_in_child("GraphMLP", "tiny", 2, timeout_s=0.5, compile=True)
    assert reason == "compile + timing > 0.5 s limit" and not cache.exists()


def test_child_failure_reason_is_the_exception_line():
    result, reason = measure_in_child("NoSuchFamily", "tiny", 2, timeout_s=120)
    assert result == {} and reason.startswith("failed: KeyError: \"unknown model family 'NoSuchFamily'")


# --- data -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(cfg, data, training subjects) on a generated tiny root: data.root points at an empty folder, so
    find_or_make_root takes its fallback."""
    empty = tmp_path_factory.mktemp("no_data")
    cfg = load_config(["profile=test", f"data.root={empty}", "data.num_workers=0", "pose2d.batch_size=4",
                       "lifting.batch_size=8", "action.batch_size=2", "data.cameras=[0, 1]"])
    root, where = find_or_make_root(cfg, tmp_path_factory.mktemp("bench"))
    assert "generated" in where and root != empty
    data, subjects = load_train_data(cfg, root)
    return cfg, data, subjects


def test_crop_loader_rows(tiny):
    cfg, data, subjects = tiny
    rows = bench_crop_loader(cfg, data, subjects, train_sps=100.0, budget_s=0.0)
    assert_well_formed(rows, group="data")
    loader, breakdown, *decode, end_to_end = rows
    assert loader.numbers["items_per_s"] > 0 and loader.numbers["batches"] >= 0
    assert [d.numbers["reduction"] for d in decode] == [2, 4, 8]
    assert all(d.numbers["reduced_s"] > 0 and d.numbers["full_s"] > 0 and "1000×" in d.benchmark for d in decode)
    assert loader.ratio == fmt_ratio(loader.numbers["items_per_s"] / 100.0)
    assert 0 < breakdown.numbers["read_s"] < breakdown.numbers["item_s"]
    assert end_to_end.numbers["end_to_end_sps"] > 0 and end_to_end.numbers["alone_sps"] > 0
    assert end_to_end.ratio == fmt_ratio(end_to_end.numbers["end_to_end_sps"] / end_to_end.numbers["alone_sps"])


def test_downstream_loader_rows(tiny):
    cfg, data, subjects = tiny
    lifting = bench_lifting_loader(cfg, data, subjects, train_sps=None, budget_s=0.0)
    action = bench_action_loader(cfg, data, subjects, train_sps=50.0, budget_s=0.0)
    assert_well_formed(lifting + action, group="data")
    assert ["GroundTruth" in lifting[0].benchmark, "Probabilistic-like" in lifting[1].benchmark] == [True, True]
    assert lifting[0].ratio == "n/a" and lifting[0].goal == "≥ 1×: n/a"  # no consumer rate given
    assert action[0].numbers["consumption_sps"] == 50.0


def test_probabilistic_like_source_draws_fresh_samples_around_the_truth(tiny):
    from dataloader.sources import ground_truth_source

    cfg, data, subjects = tiny
    keys = sequence_keys(cfg, data, subjects)[:1]
    truth = ground_truth_source(data, keys)
    source = probabilistic_like(truth, scale=0.01)
    frames = np.arange(3)
    a, b = (source.window(keys[0], frames, np.random.default_rng(s)) for s in (0, 1))
    assert source.stochastic and a.shape == truth.window(keys[0], frames, None).shape
    assert not np.allclose(a, b) and np.abs(a - truth.keypoints[keys[0]][frames]).max() < 0.2


# --- demo and the whole command ---------------------------------------------------------------

def test_demo_rows(tmp_path):
    assert bench_demo(tmp_path)[0].measured == "n/a (run make demo first)"
    (tmp_path / "timings.json").write_text(json.dumps({"data": 1.0, "train2D": 3.0}))
    rows = bench_demo(tmp_path)
    assert_well_formed(rows, group="demo")
    assert [r.ratio for r in rows[:2]] == ["25 %", "75 %"] and rows[-1].numbers["seconds"] == 4.0


def test_main_writes_the_table_with_its_header(tmp_path):
    from bench.__main__ import main

    out = tmp_path / "results"
    main(["--skip", "tictac", "--skip", "models", "--skip", "data", "--out", str(out), f"output_root={tmp_path}"])
    text = (out / "bench.md").read_text()
    assert "command: `python -m bench --skip tictac" in text and "date: " in text
    assert "hardware threads" in text and "intra-op" in text and "total bench time" in text
    assert "| demo | make demo, seconds per stage | n/a (run make demo first) |" in text
    assert json.loads((out / "bench.json").read_text())["rows"][0]["group"] == "demo"


def test_set_compiled_fills_ratios_and_reasons():
    from bench.bench_models import set_compiled

    rows = [Row(group="model", benchmark=b, measured="n/a (not attempted)", notes="B=2",
                numbers={"eager_sps": 10.0, "compiled_sps": float("nan")}) for b in ("forward", "train")]
    compiled = {"train_sps": 5.0, "train_eager_sps": 8.0, "compile_train_s": 3.2}
    set_compiled(rows, compiled, "compile + timing > 9 s limit")
    assert rows[0].measured == "n/a (compile + timing > 9 s limit)" and rows[0].ratio == "n/a"
    # the ratio is against the eager calls alternated with the compiled ones (8/s), not the earlier 10/s
    assert rows[1].measured == "5 samples/s" and rows[1].ratio == "0.625×"
    assert rows[1].notes.startswith("B=2, ratio vs eager timed alternately with it: 8 samples/s")
    assert rows[1].notes.endswith("first call (compile) 3 s")
    assert rows[1].numbers["compiled_sps"] == 5.0 and rows[1].numbers["compile_train_s"] == 3.2


def test_seconds_are_printed_without_scientific_notation():
    from bench import fmt_seconds

    assert [fmt_seconds(s) for s in (0.0204, 58.63, 999.6, 12345.0)] == ["20.4 ms", "58.6 s", "1000 s", "12345 s"]


def test_the_channels_last_row_times_both_layouts_of_one_model():
    row = bench_channels_last("Hourglass", "tiny", batch=2, budget_s=0.0)
    assert_well_formed([row], group="model")
    n = row.numbers
    assert n["channels_last_s"] > 0 and n["contiguous_s"] > 0
    assert n["ratio"] == pytest.approx(n["contiguous_s"] / n["channels_last_s"])
    assert "channels-last vs contiguous" in row.benchmark and row.baseline.endswith("contiguous")
