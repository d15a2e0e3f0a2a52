"""Configuration: merging, strict validation, aliases, saving."""
import dataclasses

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
    (["profile=gpu"], "choose one of: quick, paper, test"),
    (["prob.methods=[NLL, Gaussian]"], "unknown method(s) ['Gaussian']"),
    (["data=3"], "is a section"),
    (["novalue"], "use key=value"),
    (["data.cameras=[7]"], "'data.cameras' = [7] must list camera indices in 0..3"),
    (["noise_std=.inf"], "'noise_std' = inf must be finite"),
    (["lifting.batch_size=0"], "'lifting.batch_size' = 0 must be ≥ 1"),
    (["pose2d.lr=-1"], "'pose2d.lr' = -1.0 must be a positive number"),
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
