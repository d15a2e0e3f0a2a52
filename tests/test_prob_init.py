"""prob.init: the probabilistic estimator's pose networks start from a trained 2D checkpoint of ours."""
from __future__ import annotations

import pytest
import torch

from config import load_config
from models.pose2d import build_pose_model
from utils.engine import layout
from utils.stages import prob_estimator
from utils.engine.checkpoint import CheckpointError, atomic_save, make_checkpoint
from utils.stages.estimator import load_pose_weights


def _save(path, preset: str, seed: int):
    torch.manual_seed(seed)
    model = build_pose_model("ViTPose", preset, 17)
    kwargs = {"name": "ViTPose", "preset": preset, "num_joints": 17}
    atomic_save(make_checkpoint(model=model, model_name="ViTPose", model_kwargs=kwargs, config={}, epoch=1, step=1),
                path)
    return model


def test_every_method_starts_from_the_checkpoint(tmp_path):
    trained = _save(tmp_path / "model.pt", "tiny64", seed=1)
    torch.manual_seed(2)
    fresh = build_pose_model("ViTPose", "tiny64", 17)
    load_pose_weights(fresh, {"name": "ViTPose", "preset": "tiny64", "num_joints": 17}, tmp_path / "model.pt")
    methods = prob_estimator.build_method_set(fresh, ["NLL", "TIC"], {})
    images = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        expected = trained.eval()(images)
        for m in ("NLL", "TIC"):
            assert torch.equal(methods.models[m].pose_model.eval()(images), expected)


def test_a_checkpoint_of_another_preset_is_refused_naming_both(tmp_path):
    _save(tmp_path / "model.pt", "tiny", seed=1)
    model = build_pose_model("ViTPose", "tiny64", 17)
    with pytest.raises(CheckpointError, match="preset 'tiny'.*preset 'tiny64'"):
        load_pose_weights(model, {"name": "ViTPose", "preset": "tiny64", "num_joints": 17}, tmp_path / "model.pt")


def test_pose2d_names_this_runs_own_2d_model(tmp_path):
    cfg = load_config([f"output_root={tmp_path}", "prob.init=pose2d", "model_prob_pose=Hourglass"])
    assert layout.prob_init_checkpoint(cfg) == layout.pose2d_checkpoint(cfg, "Hourglass")
    assert layout.prob_init_checkpoint(load_config([f"output_root={tmp_path}", "prob.init="])) is None
    assert layout.prob_init_checkpoint(load_config(["prob.init=/x/model.pt"])) == layout.Path("/x/model.pt")


@pytest.mark.parametrize("family,preset,size", [("ViTPose", "tiny64", (64, 48)), ("Hourglass", "tiny", (64, 64))])
def test_heatmaps_scale_exactly_to_the_tictac_peak(family, preset, size):
    """A peak-1 checkpoint's heatmaps are multiplied by `prob.heatmap_peak` (every stack of the Hourglass, whose
    next stack sees the same input as before)."""
    from utils.stages.estimator import scale_heatmap_output
    torch.manual_seed(0)
    model = build_pose_model(family, preset, 17).eval()
    images = torch.randn(2, 3, *size)
    with torch.no_grad():
        before = model(images)
        scale_heatmap_output(model, 30.0)
        after = model(images)
    # float32 rounding of the rescaled layers: absolute, on the scale of the largest heatmap value
    torch.testing.assert_close(after, 30.0 * before, rtol=1e-4, atol=1e-6 * float((30.0 * before).abs().max()))
