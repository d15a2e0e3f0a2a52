"""Same seed and configuration → the same training, to the last digit of every metric (CPU).

Each stage runs twice in fresh processes: once as the session's shared run (conftest), once here.
metrics.csv is compared as text (it holds each float's shortest repr), all columns but `seconds`,
and the final weights bit for bit.
"""
from __future__ import annotations

import torch

from tests.helpers import GRAPHMLP, VITPOSE, base_overrides, graphmlp_dir, read_metrics, run_stage, vitpose_dir
from utils.engine.checkpoint import load_checkpoint


def _assert_same_run(first, second) -> None:
    assert read_metrics(first / "metrics.csv") == read_metrics(second / "metrics.csv")
    a, b = load_checkpoint(first / "last.pt"), load_checkpoint(second / "last.pt")
    assert a["step"] == b["step"] > 0
    for key, value in a["model"].items():
        assert torch.equal(b["model"][key], value), key


def test_train2d_twice_gives_identical_metrics(vitpose_run, tiny_root, tmp_path):
    code, _, err = run_stage("train2D.py", base_overrides(tiny_root, tmp_path) + VITPOSE)
    assert code == 0, err[-3000:]
    _assert_same_run(vitpose_dir(vitpose_run), vitpose_dir(tmp_path))


def test_main_twice_gives_identical_metrics(graphmlp_run, tiny_root, tmp_path):
    code, _, err = run_stage("main.py", base_overrides(tiny_root, tmp_path) + GRAPHMLP)
    assert code == 0, err[-3000:]
    _assert_same_run(graphmlp_dir(graphmlp_run), graphmlp_dir(tmp_path))
