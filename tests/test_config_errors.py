"""Bad inputs caught by config.py (unknown keys, bad values and types, configuration files):
one line naming the file or key, nothing written (the harness: tests/bad_inputs.py)."""
from __future__ import annotations

import pytest

from tests.bad_inputs import (Bad, check_case, _bad_yaml, _list_yaml)

CASES = {
    "unknown_key": Bad("main.py", ("lifting.epoch=3",), ("lifting.epoch'", "did you mean 'lifting.epochs'")),
    "unknown_top_key": Bad("train2D.py", ("modle_2D_prediction=ViTPose",), ("did you mean 'model_2D_prediction'",)),
    "bad_choice": Bad("main.py", ("model_3D_prediction=VideoPose",), ("model_3D_prediction", "GraphMLP, SkateFormer")),
    "wrong_type": Bad("main.py", ("lifting.epochs=three",), ("'lifting.epochs' expects int",)),
    "wrong_type_list": Bad("train2D.py", ("data.cameras=0",), ("'data.cameras' expects list",)),
    "section_as_value": Bad("main.py", ("data=3",), ("'data' is a section",)),
    "bad_profile": Bad("main.py", ("profile=fast",), ("'profile'", "quick, standard, paper, test")),
    "override_without_value": Bad("main.py", ("lifting.epochs",), ("bad override 'lifting.epochs'", "key=value")),
    "unknown_flag": Bad("main.py", ("--resume",), ("--resume", "resume=true")),
    "bad_yaml_file": Bad("main.py", ("--config", "{out}/bad.yml"), ("{out}/bad.yml line 3", "invalid YAML"), _bad_yaml),
    "yaml_not_a_mapping": Bad("main.py", ("--config", "{out}/list.yml"), ("{out}/list.yml", "mapping"), _list_yaml),
    "missing_config_file": Bad("get3Dprediction.py", ("--config", "{out}/nowhere.yml"),
                               ("{out}/nowhere.yml not found", "--config")),
    "unknown_method": Bad("train2D_prob_pose.py", ("prob.methods=[NLL, Laplace]",),
                          ("'prob.methods'", "Laplace", "TIC")),
    "wrong_stage_model": Bad("train2D.py", ("model_2D_prediction=Probabilistic",),
                             ("model_2D_prediction", "train2D_prob_pose.py")),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_fails_with_one_line_and_leaves_outputs(case, tiny_root, outputs, tmp_path):
    check_case(case, tiny_root, outputs, tmp_path)
