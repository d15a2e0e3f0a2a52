"""dataloader.camera and the skeleton conventions of dataloader.h36m.

Expected values are derived by hand below from the public camera numbers (human36m.md §3) and the
joint tables (§2). The projection was also compared once, outside the test suite, with
VideoPose3D's ``common/camera.py`` (``world_to_camera`` + ``project_to_2d`` on normalised
intrinsics + ``image_coordinates``): max difference 2e-4 px over S1/S9/S11 × 4 cameras.
"""
import numpy as np
import pytest

from dataloader.camera import (camera_to_world, image_coordinates, normalize_screen_coordinates,
                               project_to_pixels, world_to_camera)
from dataloader.h36m import (CAMERA_IDS, FLIP_PERMUTATION, JOINTS_LEFT, JOINTS_RIGHT, NUM_CAMERAS, NUM_JOINTS,
                             SUBJECTS, get_camera, select_17)


@pytest.mark.parametrize("camera", range(NUM_CAMERAS))
def test_point_on_optical_axis_projects_to_principal_point(camera):
    cam = get_camera("S1", camera)
    # x = X/Z = 0, y = 0 → r² = 0, no distortion → u = c
    np.testing.assert_allclose(project_to_pixels(np.array([0.0, 0.0, 3.7]), cam), cam.center, atol=1e-9)


def test_projection_matches_hand_computed_distortion():
    cam = get_camera("S1", 0)  # 54138969: intrinsics from h36m_cameras.json (human36m.md §3)
    assert cam.id == "54138969"
    fx, fy = 1145.0494384765625, 1143.7811279296875
    cx, cy = 512.54150390625, 515.4514770507812
    k1, k2, k3 = -0.20709891617298126, 0.24777518212795258, -0.0030751503072679043
    p1, p2 = -0.0009756988729350269, -0.00142447161488235
    # camera-frame point (0.2, -0.1, 2.0) m → x = 0.1, y = -0.05
    x, y = 0.2 / 2.0, -0.1 / 2.0
    r2 = x * x + y * y                                     # 0.0125
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3     # 0.997449...
    tan = p1 * x + p2 * y                                  # -2.6347e-05
    u = fx * (x * (radial + tan) + p1 * r2) + cx
    v = fy * (y * (radial + tan) + p2 * r2) + cy
    # by hand: x_d ≈ 0.1 · 0.997423 − 1.22e-5 ≈ 0.099730 → u ≈ 1145.05 · 0.099730 + 512.54 ≈ 626.74
    assert u == pytest.approx(626.74, abs=0.01) and v == pytest.approx(458.39, abs=0.01)
    np.testing.assert_allclose(project_to_pixels(np.array([0.2, -0.1, 2.0]), cam), [u, v], atol=1e-9)


def test_projection_clamps_normalised_coordinates_to_one():
    cam = get_camera("S9", 2)
    # X/Z = 3 is clamped to 1 (VideoPose3D and the MATLAB model), so it projects like X/Z = 1
    np.testing.assert_allclose(project_to_pixels(np.array([3.0, 0.5, 1.0]), cam),
                               project_to_pixels(np.array([1.0, 0.5, 1.0]), cam))


@pytest.mark.parametrize("subject", SUBJECTS)
def test_world_camera_round_trip_and_centre_maps_to_origin(subject):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(5, NUM_JOINTS, 3))
    for cam in (get_camera(subject, c) for c in range(NUM_CAMERAS)):
        # the stored (float32) quaternions are unit only to ~3e-8, so with points ~5–8 m from the camera
        # the round trip holds to ~1e-6 m, as in VideoPose3D (which does not renormalise either)
        np.testing.assert_allclose(camera_to_world(world_to_camera(points, cam), cam), points, atol=1e-5)
        np.testing.assert_allclose(world_to_camera(np.array(cam.translation), cam), 0.0, atol=1e-12)
        # rotation only: distances are kept
        d_world = np.linalg.norm(points[0, 0] - points[0, 1])
        cam_points = world_to_camera(points, cam)
        assert np.linalg.norm(cam_points[0, 0] - cam_points[0, 1]) == pytest.approx(d_world, abs=1e-5)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_capture_volume_centre_is_in_front_of_every_camera_and_in_the_image(subject):
    # The subjects move around the world origin: a point 1 m above it must be seen by all four
    # cameras (z > 0) and land inside the image; a wrong quaternion convention fails this.
    for cam in (get_camera(subject, c) for c in range(NUM_CAMERAS)):
        point = world_to_camera(np.array([0.0, 0.0, 1.0]), cam)
        assert 3.0 < point[2] < 7.0
        u, v = project_to_pixels(point, cam)
        assert 0 < u < cam.res_w and 0 < v < cam.res_h


def test_normalise_screen_coordinates_by_hand_and_round_trip():
    w, h = 1000, 1002
    corners = np.array([[0.0, 0.0], [w, h], [w / 2, h / 2]])
    # x ∈ [0, w] ↦ [−1, 1]; y ↦ y·2/w − h/w, so y = h ↦ h/w and the centre ↦ 0
    expected = np.array([[-1.0, -h / w], [1.0, h / w], [0.0, 0.0]])
    np.testing.assert_allclose(normalize_screen_coordinates(corners, w, h), expected, atol=1e-12)
    pixels = np.random.default_rng(1).uniform(0, 1000, size=(7, NUM_JOINTS, 2))
    np.testing.assert_allclose(image_coordinates(normalize_screen_coordinates(pixels, w, h), w, h), pixels)


def test_select_17_picks_the_documented_raw_joints():
    documented = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]  # human36m.md §2, VideoPose3D
    raw = np.arange(32 * 3, dtype=float).reshape(32, 3)
    picked = select_17(raw[None])[0]
    assert picked.shape == (NUM_JOINTS, 3)
    np.testing.assert_array_equal(picked[:, 0] / 3, documented)
    with pytest.raises(ValueError, match="expected 32 raw joints"):
        select_17(np.zeros((4, 17, 3)))


def test_flip_permutation_swaps_left_and_right_and_is_an_involution():
    perm = np.array(FLIP_PERMUTATION)
    np.testing.assert_array_equal(perm[perm], np.arange(NUM_JOINTS))
    pairs = [(1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16)]  # human36m.md §2 "Flip"
    for a, b in pairs:
        assert perm[a] == b and perm[b] == a
    centre = [0, 7, 8, 9, 10]
    np.testing.assert_array_equal(perm[centre], centre)
    assert sorted(JOINTS_LEFT + JOINTS_RIGHT + tuple(centre)) == list(range(NUM_JOINTS))


def test_camera_lookup_by_id_and_index_agree():
    for index, camera_id in enumerate(CAMERA_IDS):
        assert get_camera("S5", camera_id) == get_camera("S5", index)
