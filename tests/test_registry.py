"""models.registry: the one table from a family name to its class, presets, task and configuration keys."""
import pytest
import torch

from config import load_config
from models import registry
from utils.stages import downstream, estimator


def test_every_family_resolves_to_its_class_and_presets():
    for name, fam in registry.FAMILIES.items():
        cls, presets = fam.model_class(), fam.preset_table()
        assert isinstance(cls, type) and presets, name
        assert fam.task in ("pose2d", "lifting", "action")
        assert (fam.preset_key != "") == (fam.task == "pose2d") and (fam.window != "") == (fam.task != "pose2d")
    with pytest.raises(KeyError, match="unknown model family 'Nope'; valid: ViTPose, Hourglass, GraphMLP, SkateFormer"):
        registry.family("Nope")


def test_the_hourglass_reads_its_own_keys_when_set_and_the_shared_ones_otherwise():
    cfg = load_config(["pose2d.epochs=7", "pose2d.hourglass_epochs=3", "pose2d.lr=0.01", "pose2d.hourglass_lr=0",
                       "pose2d.vitpose_preset=tiny64", "pose2d.hourglass_preset=tiny"])
    assert (estimator.epochs_of(cfg, "Hourglass"), estimator.epochs_of(cfg, "ViTPose")) == (3, 7)
    assert (estimator.lr_of(cfg, "Hourglass"), estimator.lr_of(cfg, "ViTPose")) == (0.01, 0.01)  # 0 = the shared lr
    assert registry.pose2d_setting_key(cfg, "Hourglass", "lr") == "lr"
    assert registry.pose2d_setting_key(cfg, "Hourglass", "epochs") == "hourglass_epochs"
    assert registry.pose2d_setting_key(cfg, "ViTPose", "epochs") == "epochs"
    assert (estimator.preset_of(cfg, "ViTPose"), estimator.preset_of(cfg, "Hourglass")) == ("tiny64", "tiny")


def test_a_downstream_model_is_built_from_its_task_section():
    cfg = load_config(["model_3D_prediction=GraphMLP", "lifting.preset=tiny27", "lifting.input=xy+cov"])
    model, kwargs, window = downstream.build_downstream(cfg)
    assert type(model).__name__ == "GraphMLP" and window == kwargs["frames"] == 27 and kwargs["extra_channels"] == 3
    cfg = load_config(["model_3D_prediction=SkateFormer", "action.preset=tiny"])
    model, kwargs, window = downstream.build_downstream(cfg)
    assert type(model).__name__ == "SkateFormer" and window == kwargs["num_frames"] and "extra_channels" not in kwargs
    with pytest.raises(SystemExit, match="lifting.preset='T9' is not a GraphMLP preset"):
        downstream.build_model("GraphMLP", "T9")


@pytest.mark.parametrize("channels_last", [True, False])
def test_place_keeps_the_outputs_and_puts_only_the_convolutional_family_in_channels_last(channels_last):
    cfg = load_config([f"runtime.channels_last={str(channels_last).lower()}", "pose2d.vitpose_preset=tiny64",
                       "pose2d.hourglass_preset=tiny"])
    torch.manual_seed(0)
    images = torch.randn(2, 3, 64, 64)
    for name in ("Hourglass", "ViTPose"):
        model, _ = estimator.build_estimator(cfg, name)
        model.eval()
        x = images[..., :model.input_size[1]]
        with torch.no_grad():
            before = model(x).clone()
            placed = estimator.place(model, name, cfg, torch.device("cpu"))
            after = placed(x)
        convs = [m.weight for m in placed.modules() if isinstance(m, torch.nn.Conv2d)]
        expect = channels_last and name == "Hourglass"
        assert all(w.is_contiguous(memory_format=torch.channels_last) == expect for w in convs if w.shape[-1] > 1), name
        torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)


def test_a_channels_last_tic_tac_hourglass_gives_the_same_gaussian():
    """train2D_prob_pose.py / get2Dpredictions_prob_pose.py place the TIC-TAC Hourglass in channels-last memory: the
    vmapped TIC Jacobian through the last hourglass runs on it and gives the NCHW model's mean and covariance."""
    from models.tictac.probabilistic import ProbabilisticPoseModel

    cfg = load_config(["runtime.channels_last=true", "pose2d.hourglass_preset=tiny"])
    torch.manual_seed(0)
    pose_model, _ = estimator.build_estimator(cfg, "Hourglass")
    model = ProbabilisticPoseModel(pose_model, "TIC").eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        before = {k: v.clone() for k, v in model(images).items() if k in ("mean", "covariance")}
        placed = estimator.place(model, "Hourglass", cfg, torch.device("cpu"))
        after = placed(images)
    assert placed.pose_model.pre[0].conv.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(after["mean"], before["mean"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(after["covariance"], before["covariance"], rtol=1e-4, atol=1e-6)
