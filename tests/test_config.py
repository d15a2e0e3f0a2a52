"""Configuration: merging, strict validation, aliases, saving."""
import dataclasses
import math

import pytest
import yaml

import config
from config import ConfigError, load_config


def test_defaults_load_and_are_frozen():
    cfg = load_config()
    assert cfg.model_3D_prediction in config.MODELS_3D
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lifting.lr = 1.0  # the sections too


def test_override_dotted_keys_and_types():
    cfg = load_config(["pose2d.epochs=7", "lifting.lr=0.01", "data.actions=[Walking, Eating]", "resume=true"])
    assert cfg.pose2d.epochs == 7 and cfg.lifting.lr == 0.01 and cfg.resume is True
    assert cfg.data.actions == ["Walking", "Eating"]


def test_int_accepted_for_float():
    assert load_config(["lifting.lr=1"]).lifting.lr == 1.0


def test_profile_applies_on_top_of_the_file():
    cfg = load_config(["profile=paper"])
    assert cfg.pose2d.vitpose_preset == "B" and cfg.pose2d.epochs == 210
    # the command line still wins over the profile
    assert load_config(["profile=paper", "pose2d.epochs=3"]).pose2d.epochs == 3


@pytest.mark.parametrize("override, message", [
    (["pose2d.epoch=3"], "did you mean 'pose2d.epochs'"),
    (["modle_3D_prediction=GraphMLP"], "did you mean 'model_3D_prediction'"),
    (["model_3D_prediction=PoseFormer"], "choose one of: GraphMLP, SkateFormer"),
    (["pose2d.lr=fast"], "'pose2d.lr' expects float"),
    (["seed=true"], "'seed' expects int"),
    (["resume=1"], "'resume' expects bool"),
    (["profile=gpu"], "choose one of: quick, standard, paper, test"),
    (["prob.methods=[NLL, Gaussian]"], "unknown method(s) ['Gaussian']"),
    (["data=3"], "is a section"),
    (["novalue"], "use key=value"),
    (["data.cameras=[7]"], "'data.cameras' = [7] must list camera indices in 0..3"),
    (["noise_std=.inf"], "'noise_std' = inf must be finite"),
    (["lifting.batch_size=0"], "'lifting.batch_size' = 0 must be ≥ 1"),
    (["evaluate.batch_size=0"], "'evaluate.batch_size' = 0 must be ≥ 1"),
    (["pose2d.hourglass_batch_size=-1"], "'pose2d.hourglass_batch_size' = -1 must be ≥ 0"),
    (["pose2d.hourglass_epochs=-2"], "'pose2d.hourglass_epochs' = -2 must be ≥ 0"),
    (["pose2d.lr=-1"], "'pose2d.lr' = -1.0 must be a positive number"),
    (["action.splits=[xsub, xcam]"], "'action.splits' = ['xsub', 'xcam'] must name each of xsub, xview"),
    (["action.splits=[]"], "'action.splits' = [] must name each of xsub, xview"),
    (["action.splits=[xsub, xsub]"], "at most once"),
    (["lifting.uncertainty_dropout=1.5"], "'lifting.uncertainty_dropout' = 1.5 must lie in [0, 1]"),
])
def test_validation_errors_name_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(override)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_groundthruth_is_a_deprecated_alias(caplog):
    cfg = load_config(["model_2D_prediction=GroundThruth"])
    assert cfg.model_2D_prediction == "GroundTruth"
    assert "deprecated" in caplog.text


def test_missing_and_invalid_yaml_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(config_file=tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yml.*invalid YAML"):
        load_config(config_file=bad)


def test_every_key_of_configuration_yml_is_commented_and_known():
    text = config.DEFAULT_CONFIG_FILE.read_text()
    data = yaml.safe_load(text)
    config._build(config.Config, data)  # every key is valid
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and ":" in stripped and not stripped.endswith(":"):
            assert "#" in line, f"configuration.yml key without a comment: {line}"


def test_saved_config_round_trips(tmp_path):
    cfg = load_config(["seed=5"])
    config.save_config(cfg, tmp_path / "config.yml")
    again = config._build(config.Config, yaml.safe_load((tmp_path / "config.yml").read_text()))
    assert again == cfg


def test_cosine_schedule_and_hourglass_epochs():
    """The quick profile's cosine schedule warms up, then falls from 1 to 0.01 by the last epoch; the
    step schedule drops ×0.1 at its epochs; the Hourglass takes `hourglass_epochs` when set."""
    from types import SimpleNamespace

    from utils.stages.estimator import epochs_of, warmup_step_lambda
    cosine = warmup_step_lambda(10, steps_per_epoch=5, lr_steps=[], schedule="cosine", epochs=4)
    assert cosine(0) == pytest.approx(0.001 * 1.0, rel=1e-3)
    assert cosine(10) < 1.0 and cosine(10) == pytest.approx(0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert cosine(20) == pytest.approx(0.01) and cosine(25) == pytest.approx(0.01)
    step = warmup_step_lambda(0, steps_per_epoch=5, lr_steps=[2, 3])
    assert [step(s) for s in (9, 10, 15)] == pytest.approx([1.0, 0.1, 0.01])
    pose2d = SimpleNamespace(epochs=40, hourglass_epochs=12)
    assert epochs_of(SimpleNamespace(pose2d=pose2d), "Hourglass") == 12
    assert epochs_of(SimpleNamespace(pose2d=pose2d), "ViTPose") == 40
    pose2d.hourglass_epochs = 0
    assert epochs_of(SimpleNamespace(pose2d=pose2d), "Hourglass") == 40


def test_hourglass_lr_and_sigma_fall_back_to_the_shared_keys():
    """`pose2d.hourglass_lr` / `hourglass_sigma` apply to the Hourglass only, and 0 means the shared key."""
    from types import SimpleNamespace

    from utils.stages.estimator import lr_of, sigma_of
    cfg = SimpleNamespace(pose2d=SimpleNamespace(lr=0.002, hourglass_lr=0.004, sigma=1.0, hourglass_sigma=2.0))
    assert (lr_of(cfg, "Hourglass"), lr_of(cfg, "ViTPose")) == (0.004, 0.002)
    assert (sigma_of(cfg, "Hourglass"), sigma_of(cfg, "ViTPose")) == (2.0, 1.0)
    cfg.pose2d.hourglass_lr = cfg.pose2d.hourglass_sigma = 0
    assert (lr_of(cfg, "Hourglass"), sigma_of(cfg, "Hourglass")) == (0.002, 1.0)


def test_each_2d_model_trains_with_its_own_weight_decay():
    """train2D.py's optimiser decays ViTPose's weights by `pose2d.weight_decay` and the Hourglass's by its own
    `pose2d.hourglass_weight_decay` (0 = none, not the shared key); norms and biases are never decayed."""
    from config import load_config
    from utils.stages import estimator

    def decays(cfg, name):
        model, _ = estimator.build_estimator(cfg, name)
        return sorted({g["weight_decay"] for g in estimator.build_optimizer(cfg, model, name).param_groups})

    cfg = load_config(["profile=test", "pose2d.weight_decay=0.1", "pose2d.hourglass_weight_decay=0.0001"])
    assert decays(cfg, "ViTPose") == [0.0, 0.1]
    assert decays(cfg, "Hourglass") == [0.0, 0.0001]
    assert decays(load_config(["profile=test", "pose2d.weight_decay=0.1", "pose2d.hourglass_weight_decay=0"]),
                  "Hourglass") == [0.0]


def test_paper_profile_trains_each_2d_model_with_its_official_optimizer():
    """`paper`: ViTPose with AdamW, weight decay 0.1 (ViTAE-Transformer/ViTPose configs); the Stacked Hourglass with
    Adam and no weight decay (princeton-vl/pytorch_stacked_hourglass task/pose.py); quick gives both AdamW at 1e-4."""
    import torch

    from config import load_config
    from utils.stages import estimator

    for profile, hourglass in (("paper", torch.optim.Adam), ("quick", torch.optim.AdamW)):
        cfg = load_config([f"profile={profile}", "pose2d.vitpose_preset=tiny", "pose2d.hourglass_preset=tiny"])
        for name, kind in (("ViTPose", torch.optim.AdamW), ("Hourglass", hourglass)):
            model, _ = estimator.build_estimator(cfg, name)
            optimizer = estimator.build_optimizer(cfg, model, name)
            assert type(optimizer) is kind, (profile, name)
            decays = {g["weight_decay"] for g in optimizer.param_groups}
            expected = {"paper": {"ViTPose": {0.0, 0.1}, "Hourglass": {0.0}},
                        "quick": {"ViTPose": {0.0, 0.0001}, "Hourglass": {0.0, 0.0001}}}[profile][name]
            assert decays == expected, (profile, name)


def test_hourglass_batch_size_falls_back_to_the_shared_key():
    """`pose2d.hourglass_batch_size` sets the Hourglass's training batch only; 0 means `pose2d.batch_size`."""
    from types import SimpleNamespace

    from utils.stages.estimator import batch_size_of
    cfg = SimpleNamespace(pose2d=SimpleNamespace(batch_size=32, hourglass_batch_size=16))
    assert (batch_size_of(cfg, "Hourglass"), batch_size_of(cfg, "ViTPose")) == (16, 32)
    cfg.pose2d.hourglass_batch_size = 0
    assert batch_size_of(cfg, "Hourglass") == 32
