"""Bad inputs caught by the person boxes of data.box_source (silhouette files, detections):
one line naming the file or key, nothing written (the harness: tests/bad_inputs.py)."""
from __future__ import annotations

import json

import pytest
import yaml

from tests.bad_inputs import (DETECT, V, WALK0, Bad, check_case, _artifact, _box_detections, _nan_box,
                              _remove_walking_boxes)
from tests.helpers import vitpose_dir

CASES = {
    "missing_person_boxes": Bad("get2Dpredictions.py", V + WALK0,
                                ("no person box file {root}/S1/MySegmentsMat/ground_truth_bb/Walking.54138969.mat",
                                 "'Segments'", "data.box_source=keypoints"), _remove_walking_boxes, own_root="frames"),
    "missing_person_boxes_train": Bad("train2D.py", V + WALK0, ("no person box file", "data.box_source=keypoints"),
                                      _remove_walking_boxes, own_root="frames"),
    "detections_without_file": Bad("train2D.py", V + ("data.box_source=detections",),
                                   ("'data.box_source' = 'detections' needs the boxes file", "data.detections=")),
    "detections_missing_file": Bad("get2Dpredictions.py", V + DETECT,
                                   ("{out}/boxes.npz (data.detections) do not exist",)),
    "detections_missing_key": Bad("get2Dpredictions.py", V + DETECT,
                                  ("{out}/boxes.npz has no boxes for 'S9/Walking 1/54138969'",
                                   "data.box_source=silhouette"),
                                  _box_detections(lambda arrays: arrays.pop("S9/Walking 1/54138969"))),
    "detections_nan": Bad("get2Dpredictions.py", V + DETECT,
                          ("{out}/boxes.npz: 'S1/Walking/54138969' frame 3 has a non-finite box",),
                          _box_detections(_nan_box)),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_fails_with_one_line_and_leaves_outputs(case, tiny_root, outputs, tmp_path):
    check_case(case, tiny_root, outputs, tmp_path)


def test_the_runs_the_cases_start_from_record_their_box_source(vitpose_run):
    """The finished runs every case is checked against crop around the default person box, and say so:
    the 2D run's config.yml and the artifact's meta.json (issue 13: every artifact names its box source)."""
    meta = json.loads((_artifact(vitpose_run) / "meta.json").read_text())
    assert meta["box_source"] == "silhouette" and meta["box_detections"] is None
    assert meta["config"]["data"]["box_source"] == "silhouette"
    config = yaml.safe_load((vitpose_dir(vitpose_run) / "config.yml").read_text())
    assert config["data"]["box_source"] == "silhouette"
