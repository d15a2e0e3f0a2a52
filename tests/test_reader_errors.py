"""Bad inputs caught by dataloader/reader.py and the datasets (Human3.6M files, splits, frames):
one line naming the file or key, nothing written (the harness: tests/bad_inputs.py)."""
from __future__ import annotations

import pytest

from tests.bad_inputs import (G, SEQ_WALKING, V, Bad, check_case, _coco_metadata, _nan_3d, _remove_camera0_frames,
                              _remove_frame, _rename_key, _wrong_shape)

CASES = {
    "missing_data_root": Bad("main.py", ("data.root={out}/no_data",) + G, ("{out}/no_data", "make data", "data.root")),
    "missing_npz": Bad("train2D.py", V, ("missing file {root}/data_2d_h36m_gt.npz",),
                       lambda root, out: (root / "data_2d_h36m_gt.npz").unlink(), own_root="npz"),
    "npz_not_an_archive": Bad("main.py", G, ("{root}/data_3d_h36m.npz is not an npz archive",),
                              lambda root, out: (root / "data_3d_h36m.npz").write_text("positions"), own_root="npz"),
    "missing_npz_key": Bad("main.py", G, ("{root}/data_3d_h36m.npz has no key 'positions_3d'", "keys: positions"),
                           _rename_key, own_root="npz"),
    "wrong_array_shape": Bad("main.py", G, ("data_3d_h36m.npz: S1 'Walking' has shape (24, 17, 3)", "(N, 32, 3)"),
                             _wrong_shape, own_root="npz"),
    "nan_in_3d": Bad("get2Dpredictions.py", V, ("data_3d_h36m.npz: S1 'Walking' frame 3 has non-finite",),
                     _nan_3d, own_root="npz"),
    "2d_in_another_layout": Bad("main.py", G, ("data_2d_h36m_gt.npz is in the 'coco' layout",),
                                _coco_metadata, own_root="npz"),
    "missing_frame_image": Bad("get2Dpredictions.py", V + ("data.actions=[Walking]", "data.cameras=[0]",
                                                           "data.num_workers=1"),
                               ("frame image {root}/" + SEQ_WALKING + "/000005.jpg is missing", "make data"),
                               _remove_frame, own_root="frames"),
    "missing_frames_train": pytest.param(
        Bad("train2D.py", V + ("data.actions=[Walking]", "data.cameras=[0]"),
            ("frame image {root}/" + SEQ_WALKING + "/000001.jpg is missing",), _remove_camera0_frames,
            own_root="frames")),
    "unknown_subject": Bad("main.py", ("data.train_subjects=[S2]",) + G, ("unknown subject S2", "S1, S5")),
    "subject_not_in_files": Bad("train2D.py", ("data.test_subjects=[S11]",) + V,
                                ("data_3d_h36m.npz has no subject S11", "data.test_subjects")),
    "unknown_prediction_subject": Bad("get2Dpredictions.py", ("predict.subjects=[S3]",) + V, ("unknown subject S3",)),
    "unknown_action": Bad("main.py", G + ("data.actions=[Dancing]",), ("unknown action 'Dancing'", "Walking")),
    "action_not_in_files": Bad("get3Dprediction.py", G + ("data.actions=[Eating]",),
                               ("no sequence of action 'Eating'", "data.actions")),
    "empty_test_split": Bad("get3Dprediction.py", G + ("data.test_subjects=[]",),
                            ("empty dataset", "data.test_subjects")),
    "empty_train_split": pytest.param(Bad("train2D.py", V + ("data.train_subjects=[]",),
                                          ("empty dataset", "data.train_subjects"))),
    "camera_out_of_range": Bad("get3Dprediction.py", G + ("data.cameras=[7]",), ("data.cameras",)),
    "template_without_camera": Bad("main.py", G + ("data.frame_template={subject}/{sequence}/{frame:06d}.jpg",),
                                   ("frame template", "{camera}")),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_fails_with_one_line_and_leaves_outputs(case, tiny_root, outputs, tmp_path):
    check_case(case, tiny_root, outputs, tmp_path)
