"""Test-suite settings: one intra-op thread (tests are many small ops; oversubscribing 2 cores with
DataLoader workers and subprocesses is slower and makes timings erratic), quiet progress bars."""
import os
import shutil
from pathlib import Path

import pytest
import torch

from tests.helpers import EXPERIMENT, GRAPHMLP, VITPOSE, base_overrides, call_stage, make_tiny_root, run_stage

os.environ.setdefault("TQDM_DISABLE", "1")
torch.set_num_threads(1)


# --- shared runs of the scale and robustness tests (tests/helpers.py) ---------------------------

@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """The tiny synthetic data root (S1 train, S9 test), written once per session."""
    return make_tiny_root(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture(scope="session")
def graphmlp_run(tiny_root, tmp_path_factory):
    """output_root of one uninterrupted GraphMLP run on ground truth (helpers.GRAPHMLP, 3 epochs)."""
    out = tmp_path_factory.mktemp("graphmlp_run")
    code, _, err = run_stage("main.py", base_overrides(tiny_root, out) + GRAPHMLP)
    assert code == 0, err[-3000:]
    return out


@pytest.fixture(scope="session")
def vitpose_run(tiny_root, tmp_path_factory):
    """output_root of one ViTPose tiny64 training (1 epoch) plus its prediction artifact for camera 0 of
    the Walking sequences (predicted in this process; the artifact tests break copies of it)."""
    out = tmp_path_factory.mktemp("vitpose_run")
    code, _, err = run_stage("train2D.py", base_overrides(tiny_root, out) + VITPOSE)
    assert code == 0, err[-3000:]
    code, _, err = call_stage("get2Dpredictions.py", base_overrides(tiny_root, out) + VITPOSE +
                              ["data.actions=[Walking]", "data.cameras=[0]"])
    assert code == 0, err[-3000:]
    return out


@pytest.fixture
def outputs(tmp_path, vitpose_run, graphmlp_run) -> Path:
    """A fresh output root holding copies of finished runs: 2d/ViTPose, predictions/ViTPose, 3d/GraphMLP_GroundTruth
    (what the bad-input cases of tests/test_*_errors.py must leave untouched)."""
    out = tmp_path / "out"
    for src, rel in ((vitpose_run, f"{EXPERIMENT}/2d"), (vitpose_run, f"{EXPERIMENT}/predictions"),
                     (graphmlp_run, f"{EXPERIMENT}/3d")):
        shutil.copytree(src / rel, out / rel)
    return out
