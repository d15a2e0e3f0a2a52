"""utils/engine/cli.py: `python <script>.py --help` on every stage script prints what the stage does, the command
line form and the configuration keys the stage reads with their current values and configuration.yml comments,
and exits 0 (no data, no run folder, nothing written).

Each script's `__main__` block runs in this process (runpy, as `python script.py` would run it, its imports already
loaded); one script runs as a real process to check the exit status and the streams."""
import importlib
import runpy
import sys

import pytest

from config import key_comments
from tests.helpers import REPO, run_stage

# script → a key it reads (its own section) and a key of a section it does not read
SCRIPTS = {
    "train2D.py": ("pose2d.sigma", "lifting.epochs"),
    "train2D_prob_pose.py": ("prob.methods", "lifting.epochs"),
    "get2Dpredictions.py": ("predict.flip_test", "action.epochs"),
    "get2Dpredictions_prob_pose.py": ("prob.export_method", "action.epochs"),
    "main.py": ("lifting.epochs", "pose2d.sigma"),
    "get3Dprediction.py": ("evaluate.num_samples", "pose2d.sigma"),
    "compare.py": ("compare.noise_stds", "pose2d.sigma"),
    "study.py": ("pose2d.sigma", None),
    "visualisation2D.py": ("vis.dpi", "lifting.epochs"),
    "visualisation2Dprobpose.py": ("vis.dpi", "lifting.epochs"),
    "visualisation3D.py": ("vis.dpi", "pose2d.sigma"),
    "visualisationGIF.py": ("vis.dpi", "pose2d.sigma"),
}


def test_every_stage_script_is_covered():
    scripts = {p.name for p in REPO.glob("*.py") if 'if __name__ == "__main__":' in p.read_text()}
    assert scripts == set(SCRIPTS)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_help_describes_the_stage_and_its_keys(script, tmp_path, monkeypatch, capsys):
    reads, not_read = SCRIPTS[script]
    monkeypatch.setattr(sys, "argv", [script, "--help", "seed=7", f"output_root={tmp_path}"])
    runpy.run_path(str(REPO / script), run_name="__main__")  # returns: --help exits 0
    out = capsys.readouterr().out
    doc = importlib.import_module(script.removesuffix(".py")).__doc__.strip()
    assert out.startswith(doc.splitlines()[0])                          # what the stage does
    assert f"usage: python {script} [--config FILE] [key=value" in out  # the command line form
    assert "seed=7" in out and "# same seed + configuration" in out     # current value (override applied), comment
    assert f"\n  {reads}=" in out and key_comments()[reads] in out
    if not_read:
        assert f"\n  {not_read}=" not in out
    assert not any(tmp_path.iterdir())                                  # --help runs nothing


def test_key_comments_cover_every_configuration_key():
    from config import load_config, to_dict
    from utils.engine.cli import _flatten

    keys = _flatten(to_dict(load_config()))
    comments = key_comments()
    assert [k for k in keys if not comments.get(k)] == []
    assert comments["pose2d.sigma"].startswith("Gaussian heatmap target std (heatmap pixels")


def test_help_in_a_real_process_exits_0_and_writes_stdout_only(tmp_path):
    code, out, err = run_stage("main.py", ["--help", f"output_root={tmp_path}"])
    assert code == 0 and out.startswith(importlib.import_module("main").__doc__.strip().splitlines()[0]), err[-2000:]
    assert "usage: python main.py" in out and not any(tmp_path.iterdir())


def test_help_with_a_bad_override_is_one_line_and_status_1():
    code, out, err = run_stage("main.py", ["--help", "lifting.epoch=3"])
    assert code == 1 and err.startswith("error: unknown config key") and len(err.strip().splitlines()) == 1
