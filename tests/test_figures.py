"""Figures that show the right thing: drawn joints are where the joints are, in their side's colour.

A known pose is drawn on an axis that fills the figure; matplotlib's own transforms (``transData``, the 3D
projection) give the pixel where each joint must appear, and the rendered pixels are read there. A
skeleton drawn with x and y swapped, shifted, in reverse joint order, or with the sides' colours
exchanged fails; so does a person crop whose extent does not match the frame it was cut from.
"""
from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from dataloader.h36m import JOINT_NAMES, NUM_JOINTS, get_camera
from utils import visualisation as vis

# A person facing the camera in a 400 × 400 px frame (x right, y down): their left side is on the image right.
POSE_2D = np.array([
    (200, 200), (170, 200), (165, 280), (160, 360), (230, 200), (235, 280), (240, 360),   # hips, legs
    (200, 150), (200, 100), (200, 80), (200, 45),                                         # spine … head
    (250, 100), (300, 110), (350, 120), (150, 100), (100, 110), (50, 120),              # left arm, right arm
], dtype=np.float64)
BACKGROUND = 0.5  # grey: the white joint markers and the side colours both stand out


def rgb(colour: str) -> np.ndarray:
    from matplotlib.colors import to_rgb

    return np.array(to_rgb(colour)) * 255


def pixel_of(ax, point, height: int) -> tuple[int, int]:
    """(row, column) of the rendered pixel under data point (x, y)."""
    x, y = ax.transData.transform(point)
    return int(height - y), int(x)


def render_2d(draw) -> tuple[np.ndarray, object]:
    """A 400 × 400 px figure whose single axis is a 400 × 400 px frame (y down), after `draw(ax)`."""
    fig = vis.new_figure(4.0, 4.0, dpi=100, engine=None)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 400)
    ax.set_ylim(400, 0)
    ax.set_facecolor(str(BACKGROUND))
    ax.set_axis_off()
    fig.patch.set_facecolor(str(BACKGROUND))
    draw(ax)
    return vis.figure_to_rgb(fig), ax


def test_2d_joint_markers_sit_on_the_joints_and_bones_take_their_side_colour():
    image, ax = render_2d(lambda ax: vis.draw_pose_2d(ax, POSE_2D))
    assert image.shape == (400, 400, 3)
    for j, point in enumerate(POSE_2D):
        row, col = pixel_of(ax, point, 400)
        assert (image[row, col] > 230).all(), (JOINT_NAMES[j], image[row, col])          # the white marker face
    background = image[5, 395]                                                           # a corner: nothing drawn
    np.testing.assert_allclose(background, 255 * BACKGROUND, atol=2)
    # the middle of each bone has the colour of its side (a limb's root bone too): left blue, right red, spine yellow
    name = JOINT_NAMES.index
    for child, parent, side in (("LKnee", "LHip", "left"), ("LElbow", "LWrist", "left"), ("RKnee", "RHip", "right"),
                                ("RElbow", "RWrist", "right"), ("Spine", "Thorax", "centre"), ("LHip", "Hip", "left"),
                                ("RShoulder", "Thorax", "right")):
        middle = (POSE_2D[name(child)] + POSE_2D[name(parent)]) / 2
        row, col = pixel_of(ax, middle, 400)
        np.testing.assert_allclose(image[row, col], rgb(vis.SIDE_COLOURS[side]), atol=30, err_msg=f"{child}-{parent}")
    # the marker of a lone joint far from the others: only there
    row, col = pixel_of(ax, POSE_2D[name("LWrist")], 400)
    assert (image[row - 30:row + 30, col + 10:col + 40] == image[5, 395]).all()           # nothing to its right


def test_2d_ground_truth_is_drawn_on_the_joints_without_markers():
    image, ax = render_2d(lambda ax: vis.draw_pose_2d(ax, POSE_2D, ground_truth=True))
    name = JOINT_NAMES.index
    middle = (POSE_2D[name("LKnee")] + POSE_2D[name("LFoot")]) / 2
    row, col = pixel_of(ax, middle, 400)
    assert np.abs(image[row - 2:row + 3, col - 2:col + 3].astype(float) - 255 * BACKGROUND).max() > 100  # a bone
    row, col = pixel_of(ax, POSE_2D[name("LWrist")] + np.array([0.0, 20.0]), 400)  # off the skeleton
    np.testing.assert_allclose(image[row, col], 255 * BACKGROUND, atol=2)


def test_a_2d_panel_puts_the_skeleton_on_the_person_in_the_frame(monkeypatch):
    """visualisation2D.draw_panel: the frame (stored at half the camera resolution) shows a green dot at
    every ground-truth joint; the crop, its extent and the prediction drawn on it must put each joint's
    marker on its dot."""
    import visualisation2D

    camera = get_camera("S9", 1)
    rng = np.random.default_rng(0)
    gt = np.array([300.0, 650.0]) + (POSE_2D - 200) * 1.2 + rng.normal(0, 3, (NUM_JOINTS, 2))  # off the frame centre
    frame = np.zeros((camera.res_h // 2, camera.res_w // 2, 3), np.uint8)
    for x, y in gt / 2:
        cv2.circle(frame, (int(round(x)), int(round(y))), 6, (0, 255, 0), -1)
    data = SimpleNamespace(positions_2d={"S9": {"Walking": [None, gt[None].astype(np.float32), None, None]}},
                           camera=lambda subject, cam: get_camera(subject, cam),
                           frame_path=lambda key, cam, frame: "frame.jpg")
    monkeypatch.setattr(visualisation2D, "read_frame", lambda path: frame)
    fig = vis.new_figure(4.0, 4.0, dpi=100, engine=None)
    ax = fig.add_axes((0, 0, 1, 1))
    visualisation2D.draw_panel(ax, data, ("S9", "Walking", 1), 0, gt, panel_size=400)
    image = vis.figure_to_rgb(fig)
    height = image.shape[0]
    for j, point in enumerate(gt):
        row, col = pixel_of(ax, point, height)
        assert (image[row, col] > 230).all(), (JOINT_NAMES[j], image[row, col])                  # the marker …
        ring = image[row - 9:row + 10, col - 9:col + 10].reshape(-1, 3).astype(int)
        green = (ring[:, 1] > 150) & (ring[:, 0] < 100) & (ring[:, 2] < 100)
        assert green.sum() >= 5, JOINT_NAMES[j]                                                  # … on its dot


# --- 3D ------------------------------------------------------------------------------------------

def render_3d(pose: np.ndarray):
    fig = vis.new_figure(4.0, 4.0, dpi=100, engine=None)
    ax = fig.add_axes((0, 0, 1, 1), projection="3d")
    vis.draw_pose_3d(ax, pose)
    vis.setup_axes_3d(ax, [pose], view="oblique")
    ax.set_axis_off()
    return vis.figure_to_rgb(fig), ax


def projected_pixel(ax, point_camera, height: int) -> tuple[int, int]:
    """(row, column) of a camera-frame point (x right, y down, z forward), plotted as (x, z, −y)."""
    from mpl_toolkits.mplot3d import proj3d

    x, y, z = point_camera
    px, py, _ = proj3d.proj_transform(x, z, -y, ax.get_proj())
    return pixel_of(ax, (px, py), height)


@pytest.mark.parametrize("far_joint", ["LWrist", "RFoot"])
def test_3d_the_one_far_out_joint_is_drawn_far_out_in_its_side_colour(far_joint):
    """A compact pose (every joint within 0.25 m of the pelvis) except one joint 1 m away: the bone to that
    joint reaches its projected position, in that joint's side colour."""
    rng = np.random.default_rng(1)
    pose = rng.uniform(-0.25, 0.25, (NUM_JOINTS, 3))
    j = JOINT_NAMES.index(far_joint)
    pose[j] = [1.0, -0.6, 0.4]                                                   # right, up, back
    image, ax = render_3d(pose)
    height = image.shape[0]
    row, col = projected_pixel(ax, pose[j], height)
    window = image[row - 2:row + 3, col - 2:col + 3].reshape(-1, 3).astype(float)
    colour = rgb(vis.SIDE_COLOURS[vis.joint_side(j)])
    assert np.abs(window - colour).max(1).min() < 40, (far_joint, window)
    # and it is far from where the compact rest of the pose is drawn
    rows, cols = zip(*(projected_pixel(ax, p, height) for k, p in enumerate(pose) if k != j))
    assert min(np.hypot(np.array(rows) - row, np.array(cols) - col)) > 40
