"""Frame rendering of the synthetic Human3.6M: a room seen through the real camera, and the
body as depth-shaded capsules drawn far to near.

A :class:`VideoRenderer` draws one video (one sequence, one camera). Its background is computed
once by casting the camera's pixel rays into a box-shaped room (textured floor, gradient walls,
per-sequence colours and noise); each frame then draws the chair (seated actions), the limbs,
torso and head sorted by camera depth, and sometimes an occluder in front.

The body looks the same from its left and its right (sleeves share one colour, trouser legs
another, the highlight sits straight above each capsule's axis), so a horizontally mirrored frame
is the frame of the mirrored body with its left/right labels swapped: flip augmentation and the
flip test mean here what they mean on real Human3.6M. As in real video, the sides are told apart
by where the body faces: the torso shows its front colour when turned to the camera and its back
colour when turned away (blended by the angle), the face is drawn when the head faces the camera,
and nearer limbs cover farther ones. Joint pixels come from
``dataloader.camera.project_to_pixels`` (with distortion), the same projection as the 2D ground
truth, so the drawn body sits where the 2D says; the room ignores lens distortion.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

import cv2
import numpy as np

from dataloader.camera import project_to_pixels, quaternion_rotate, world_to_camera
from dataloader.h36m import Camera
from dataloader.synthetic import skeleton as sk

_SHIFT = 4                      # cv2 fixed-point bits: coordinates are drawn with 1/16 px precision
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class Style:
    """Colours (BGR uint8 tuples) of one subject's body."""
    skin: tuple
    hair: tuple
    torso: tuple                # front of the shirt
    back: tuple                 # back of the shirt
    arms: tuple                 # both sleeves
    legs: tuple                 # both trouser legs


def _bgr(hue: float, saturation: float, value: float) -> tuple:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return (int(255 * b), int(255 * g), int(255 * r))


def make_style(rng: np.random.Generator) -> Style:
    """Random clothing and skin, the same on both sides of the body; the back of the shirt differs
    clearly in hue and brightness from its front."""
    skin_value = rng.uniform(0.45, 0.95)
    torso_hue = rng.uniform(0, 1)
    return Style(
        skin=_bgr(rng.uniform(0.04, 0.09), rng.uniform(0.3, 0.55), skin_value),
        hair=_bgr(rng.uniform(0.02, 0.12), rng.uniform(0.3, 0.8), rng.uniform(0.1, 0.45)),
        torso=_bgr(torso_hue, rng.uniform(0.5, 0.9), rng.uniform(0.7, 0.95)),
        back=_bgr(torso_hue + rng.uniform(0.35, 0.65), rng.uniform(0.3, 0.7), rng.uniform(0.25, 0.45)),
        arms=_bgr(rng.uniform(0, 1), rng.uniform(0.3, 0.9), rng.uniform(0.4, 0.9)),
        legs=_bgr(rng.uniform(0, 1), rng.uniform(0.2, 0.8), rng.uniform(0.25, 0.7)),
    )


# Body parts as capsules: (joint a, joint b, radius as a fraction of height, colour name); each
# left entry has its mirror image on the right.
_LIMBS = (
    (sk.L_HIP, sk.L_KNEE, 0.042, "legs"), (sk.L_KNEE, sk.L_ANKLE, 0.033, "legs"),
    (sk.L_ANKLE, sk.L_TOE_END, 0.022, "legs"),
    (sk.R_HIP, sk.R_KNEE, 0.042, "legs"), (sk.R_KNEE, sk.R_ANKLE, 0.033, "legs"),
    (sk.R_ANKLE, sk.R_TOE_END, 0.022, "legs"),
    (sk.L_SHOULDER, sk.L_ELBOW, 0.028, "arms"), (sk.L_ELBOW, sk.L_WRIST, 0.024, "arms"),
    (sk.L_WRIST, sk.L_HAND_END, 0.02, "skin"),
    (sk.R_SHOULDER, sk.R_ELBOW, 0.028, "arms"), (sk.R_ELBOW, sk.R_WRIST, 0.024, "arms"),
    (sk.R_WRIST, sk.R_HAND_END, 0.02, "skin"),
)
_NECK_RADIUS = 0.03
_TORSO = ((sk.HIPS, sk.SPINE1, 0.07), (sk.SPINE1, sk.NECK, 0.072), (sk.L_SHOULDER, sk.R_SHOULDER, 0.035),
          (sk.L_HIP, sk.R_HIP, 0.05))
_TORSO_OUTLINE = (sk.L_SHOULDER, sk.R_SHOULDER, sk.R_HIP, sk.L_HIP)
_HEAD_RADIUS = 0.062


def _shade(colour: tuple, factor: float) -> tuple:
    return tuple(int(min(255, max(0, c * factor))) for c in colour)


def _fixed(point: np.ndarray) -> tuple:
    return (int(round(point[0] * _ONE)), int(round(point[1] * _ONE)))


# --- background -----------------------------------------------------------------------------

def _noise(rng: np.random.Generator, width: int, height: int, cells: int) -> np.ndarray:
    """Smooth noise in [-1, 1], (height, width)."""
    grid = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)


def make_background(rng: np.random.Generator, camera: Camera, width: int, height: int,
                    room: dict) -> np.ndarray:
    """The room seen by ``camera``: (height, width, 3) uint8 BGR.

    Pixel rays (pinhole, no distortion) are cast from the camera centre; a ray that meets the
    floor inside the room shows floor tiles, otherwise it shows the wall it meets.

    Args:
        room: per-sequence look: ``floor`` and ``floor2`` (tile colours), ``wall_low``,
            ``wall_high`` (BGR), ``tile`` (metres), ``half_size`` (room half-extent x, y, metres),
            ``stripes`` (wall stripe period in metres, 0 for none), ``noise`` (amplitude of the
            smooth colour noise, grey levels).
    """
    sx, sy = width / camera.res_w, height / camera.res_h
    # the full-frame pixel each output pixel shows (pixel centres at integers, edges aligned: see _to_output)
    u, v = np.meshgrid((np.arange(width) + 0.5) / sx - 0.5, (np.arange(height) + 0.5) / sy - 0.5)
    rays_cam = np.stack([(u - camera.center[0]) / camera.focal_length[0],
                         (v - camera.center[1]) / camera.focal_length[1], np.ones_like(u)], -1)
    origin = np.asarray(camera.translation)
    rays = quaternion_rotate(np.asarray(camera.orientation), rays_cam)  # (H, W, 3) world directions
    half = np.asarray(room["half_size"])

    # distance along the ray to the walls of the box |x| < half_x, |y| < half_y
    with np.errstate(divide="ignore", invalid="ignore"):
        t_walls = np.where(rays[..., :2] != 0, (np.sign(rays[..., :2]) * half - origin[:2]) / rays[..., :2], np.inf)
        t_wall = np.min(np.where(t_walls > 0, t_walls, np.inf), axis=-1)
        t_floor = np.where(rays[..., 2] < 0, -origin[2] / rays[..., 2], np.inf)
    is_floor = t_floor <= t_wall
    t_hit = np.where(is_floor, t_floor, t_wall)
    hit = origin + t_hit[..., None] * rays                              # (H, W, 3)

    tile = room["tile"]
    checker = ((np.floor(hit[..., 0] / tile) + np.floor(hit[..., 1] / tile)) % 2).astype(np.float32)
    floor = (np.asarray(room["floor"], np.float32) * (1 - checker[..., None])
             + np.asarray(room["floor2"], np.float32) * checker[..., None])
    height_frac = np.clip(hit[..., 2] / 3.0, 0, 1)[..., None].astype(np.float32)
    wall = (np.asarray(room["wall_low"], np.float32) * (1 - height_frac)
            + np.asarray(room["wall_high"], np.float32) * height_frac)
    if room["stripes"] > 0:
        along = np.where(np.abs(np.abs(hit[..., 0]) - half[0]) < 1e-6, hit[..., 1], hit[..., 0])
        wall *= (1.0 - 0.12 * ((np.floor(along / room["stripes"]) % 2) == 0))[..., None]
    image = np.where(is_floor[..., None], floor, wall)
    image += (_noise(rng, width, height, 7) * room["noise"])[..., None]
    image += rng.normal(0, 2.0, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_room(rng: np.random.Generator) -> dict:
    """Random room look for one sequence (see :func:`make_background`)."""
    floor_hue, wall_hue = rng.uniform(0, 1), rng.uniform(0, 1)
    floor = _bgr(floor_hue, rng.uniform(0.05, 0.5), rng.uniform(0.2, 0.7))
    return {
        "floor": floor,
        "floor2": _shade(floor, rng.uniform(0.75, 1.2)),
        "wall_low": _bgr(wall_hue, rng.uniform(0.0, 0.4), rng.uniform(0.3, 0.8)),
        "wall_high": _bgr(wall_hue + rng.uniform(-0.1, 0.1), rng.uniform(0.0, 0.4), rng.uniform(0.4, 0.95)),
        "tile": float(rng.uniform(0.4, 1.2)),
        "half_size": (float(rng.uniform(3.5, 5.0)), float(rng.uniform(6.0, 7.5))),
        "stripes": float(rng.choice([0.0, rng.uniform(0.3, 1.0)])),
        "noise": float(rng.uniform(4, 18)),
    }


# --- the video -------------------------------------------------------------------------------

class VideoRenderer:
    """Draws the frames of one sequence seen by one camera.

    Everything that depends on the frame (pixels, capsule widths, depth order, shading) is
    computed for all frames at once in the constructor; :meth:`render` only draws.

    Args:
        positions: (T, 32, 3) world joint positions, metres (T may exceed the pose frames).
        camera: the real camera of this subject.
        body, style: proportions (capsule radii scale with height) and colours.
        background: (h, w, 3) uint8 image at the output size.
        chair: (4,) seat x, y, height, yaw or None.
        occluder: None or dict with ``frames`` (first, last), ``centre`` (x, y px at output
            size), ``size`` (w, h px), ``colour`` (BGR), ``shape`` ('rect' | 'ellipse').
    """

    def __init__(self, positions: np.ndarray, camera: Camera, body: sk.Body, style: Style,
                 background: np.ndarray, chair: np.ndarray | None = None, occluder: dict | None = None):
        self.background, self.style, self.occluder = background, style, occluder
        height, width = background.shape[:2]
        self.scale = np.array([width / camera.res_w, height / camera.res_h])
        points_cam = world_to_camera(positions, camera)                  # (T, 32, 3)
        depth = points_cam[..., 2]
        self.pixels = self._to_output(project_to_pixels(points_cam, camera))  # (T, 32, 2) output pixels
        px_per_m = camera.focal_length[0] * self.scale[0] / np.maximum(depth, 0.1)
        h = body.height

        head_centre = positions[:, sk.HEAD] + 0.5 * (positions[:, sk.HEAD_TOP] - positions[:, sk.HEAD])
        face_dir = positions[:, sk.HEAD] - 0.5 * (positions[:, sk.NECK] + positions[:, sk.HEAD_TOP])
        face_dir = face_dir / np.maximum(np.linalg.norm(face_dir, axis=-1, keepdims=True), 1e-9)
        head_cam = world_to_camera(head_centre, camera)
        face_cam = world_to_camera(head_centre + 0.4 * _HEAD_RADIUS * h * face_dir, camera)

        # Draw groups, sorted by depth per frame: one per limb, the torso, the head, chair boxes.
        colours = {"arms": style.arms, "legs": style.legs, "skin": style.skin}
        capsules = [(a, b, r, colours[c], g) for g, (a, b, r, c) in enumerate(_LIMBS)]
        torso, head = len(_LIMBS), len(_LIMBS) + 1
        capsules += [(a, b, r, style.torso, torso) for a, b, r in _TORSO]
        capsules.append((sk.NECK, sk.HEAD, _NECK_RADIUS, style.skin, head))
        a, b = np.array([c[0] for c in capsules]), np.array([c[1] for c in capsules])
        group = np.array([c[4] for c in capsules])
        group_depth = [0.5 * (depth[:, la] + depth[:, lb]) for la, lb, *_ in _LIMBS]
        group_depth += [depth[:, list(_TORSO_OUTLINE)].mean(-1), head_cam[:, 2]]
        self.chair_parts = self._chair_polygons(chair, camera) if chair is not None else []
        group_depth += [np.full(len(depth), z) for z, _, _ in self.chair_parts]
        group_depth = np.stack(group_depth, -1)                          # (T, G)
        near, far = depth.min(-1, keepdims=True), depth.max(-1, keepdims=True)
        light = 1.1 - 0.45 * (group_depth - near) / (far - near + 0.3)     # nearer parts brighter

        radius = np.array([c[2] for c in capsules]) * h * 0.5 * (px_per_m[:, a] + px_per_m[:, b])  # (T, C) px
        base = np.array([c[3] for c in capsules], dtype=np.float64)      # (C, 3)
        lit = base * light[:, group, None]                               # (T, C, 3)
        # the torso's forward direction (shoulder line × up) against the camera: front colour when it
        # faces the camera, back colour when it faces away, blended by the angle in between
        forward = np.cross(positions[:, sk.L_SHOULDER] - positions[:, sk.R_SHOULDER],
                           positions[:, sk.NECK] - positions[:, sk.HIPS])
        forward /= np.maximum(np.linalg.norm(forward, axis=-1, keepdims=True), 1e-9)
        chest = positions[:, sk.SPINE1]
        towards = world_to_camera(chest, camera)[:, 2] - world_to_camera(chest + forward, camera)[:, 2]
        self.front = np.clip(0.5 + 0.5 * towards, 0, 1)                  # (T,) 1 facing the camera, 0 away
        shirt = (self.front[:, None] * np.asarray(style.torso, np.float64)
                 + (1 - self.front[:, None]) * np.asarray(style.back, np.float64))
        lit[:, group == torso] = (shirt * light[:, torso, None])[:, None]   # the torso capsules wear the shirt
        self._torso_colour = np.clip(shirt * light[:, torso, None], 0, 255).astype(np.int64)
        self._order = np.argsort(-group_depth, axis=-1, kind="stable")   # far first
        self._fixed = np.round(self.pixels * _ONE).astype(np.int64)      # (T, 32, 2)
        self._thickness = np.maximum(1, np.round(2 * radius)).astype(np.int64)
        self._highlight = np.round(-0.25 * radius * _ONE).astype(np.int64)  # straight up: mirror-symmetric
        self._colour = np.clip(lit, 0, 255).astype(np.int64)
        self._dark = np.clip(0.6 * lit, 0, 255).astype(np.int64)
        self._bright = np.clip(1.25 * lit, 0, 255).astype(np.int64)
        self._face_colour = np.clip(np.asarray(style.skin) * light[:, head, None], 0, 255).astype(np.int64)
        head_radius = _HEAD_RADIUS * h * px_per_m[:, sk.HEAD]
        self._head = np.round(np.concatenate([
            self._to_output(project_to_pixels(head_cam, camera)), head_radius[:, None],
            self._to_output(project_to_pixels(face_cam, camera)), 0.8 * head_radius[:, None]], -1) * _ONE
        ).astype(np.int64)
        self._face_visible = face_cam[:, 2] < head_cam[:, 2]             # face turned to the camera
        self._groups = [[k for k in range(len(capsules)) if group[k] == g] for g in range(head + 1)]
        self._capsule_ends = list(zip(a.tolist(), b.tolist()))
        self._torso, self._head_group = torso, head

    def _to_output(self, full: np.ndarray) -> np.ndarray:
        """Full-frame pixels (..., 2) → output-image pixels: x_out + ½ = (x_full + ½) · scale, the pixel-centre
        convention of an INTER_AREA downscale (``utils.codecs.crop.stored_to_full``), so a frame rendered small shows
        the body where a full-size frame resized by ``python -m dataloader extract --image-scale`` would."""
        return (full + 0.5) * self.scale - 0.5

    def _chair_polygons(self, chair: np.ndarray, camera: Camera) -> list:
        """Seat, legs block and backrest as projected boxes: [(depth, polygon (K, 2) fixed-point, colour)]."""
        x, y, seat, yaw = chair
        forward, left = np.array([np.cos(yaw), np.sin(yaw), 0]), np.array([-np.sin(yaw), np.cos(yaw), 0])
        centre = np.array([x, y, 0.0])
        boxes = [  # (centre offset fwd, left, z), half sizes (fwd, left, z), colour factor
            ((0.0, 0.0, seat - 0.03), (0.22, 0.22, 0.03), 1.0),
            ((-0.21, 0.0, seat + 0.25), (0.02, 0.22, 0.25), 0.85),
            ((0.0, 0.0, (seat - 0.06) / 2), (0.2, 0.2, (seat - 0.06) / 2), 0.55),
        ]
        colour = (60, 70, 85)
        parts = []
        for offset, half, factor in boxes:
            middle = centre + offset[0] * forward + offset[1] * left + np.array([0, 0, offset[2]])
            corners = np.array([middle + i * half[0] * forward + j * half[1] * left + np.array([0, 0, k * half[2]])
                                for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)])
            cam = world_to_camera(corners, camera)
            if (cam[:, 2] < 0.2).any():
                continue
            pixels = self._to_output(project_to_pixels(cam, camera)).astype(np.float32)
            hull = np.round(cv2.convexHull(pixels)[:, 0] * _ONE).astype(np.int32)
            # the seat is drawn before the thighs that rest on it
            parts.append((cam[:, 2].mean() + 0.4, hull, _shade(colour, factor)))
        return parts

    def render(self, frame: int) -> np.ndarray:
        """The image of frame ``frame`` (0-based), (h, w, 3) uint8 BGR."""
        image = self.background.copy()
        self._draw_body(image, frame)
        aa, occluder = cv2.LINE_AA, self.occluder
        if occluder is not None and occluder["frames"][0] <= frame <= occluder["frames"][1]:
            centre, size = np.asarray(occluder["centre"]), np.asarray(occluder["size"])
            if occluder["shape"] == "rect":
                cv2.rectangle(image, _fixed(centre - size / 2), _fixed(centre + size / 2), occluder["colour"], -1,
                              aa, _SHIFT)
            else:
                cv2.ellipse(image, _fixed(centre), _fixed(size / 2), 0.0, 0.0, 360.0, occluder["colour"], -1,
                            aa, _SHIFT)
        return image

    def silhouette_box(self, frame: int) -> np.ndarray:
        """The person's box in frame ``frame``: (4,) float x0, y0, x1, y1 in full-frame pixels.

        The bounding box of the pixels the body covers (no chair, no occluder): what the official
        Human3.6M person boxes (``MySegmentsMat/ground_truth_bb``) give, since those come from the
        subject's foreground masks. Stored pixel i covers [i − ½, i + ½] in stored coordinates, which maps
        back through x_full + ½ = (x_stored + ½) / scale (the inverse of ``_to_output``).
        """
        mask = np.zeros(self.background.shape[:2], np.uint8)                # one channel: a third of the drawing
        self._draw_body(mask, frame, chair=False, flat=(255, 255, 255))
        body = mask > 127
        xs, ys = np.flatnonzero(body.any(axis=0)), np.flatnonzero(body.any(axis=1))
        if len(xs) == 0:
            return np.full(4, np.nan)
        stored = np.array([xs[0] - 0.5, ys[0] - 0.5, xs[-1] + 0.5, ys[-1] + 0.5])
        return (stored + 0.5) / np.tile(self.scale, 2) - 0.5

    def _draw_body(self, image: np.ndarray, frame: int, chair: bool = True, flat: tuple | None = None) -> None:
        """Draw the chair (if `chair`) and the body of frame `frame` far to near into `image`; `flat`:
        one colour for every body part (a mask), else the shaded colours."""
        points = self._fixed[frame].tolist()
        thickness, highlight = self._thickness[frame].tolist(), self._highlight[frame].tolist()
        colour, dark, bright = self._colour[frame].tolist(), self._dark[frame].tolist(), self._bright[frame].tolist()
        aa = cv2.LINE_AA
        paint = (lambda c: flat) if flat is not None else (lambda c: c)

        for g in self._order[frame].tolist():
            if g >= len(self._groups):                                  # a chair box
                if chair:
                    _, polygon, chair_colour = self.chair_parts[g - len(self._groups)]
                    cv2.fillConvexPoly(image, polygon, chair_colour, aa, _SHIFT)
                continue
            if g == self._torso:
                outline = self._fixed[frame, list(_TORSO_OUTLINE)].astype(np.int32)
                cv2.fillConvexPoly(image, outline, paint(self._torso_colour[frame].tolist()), aa, _SHIFT)
            for k in self._groups[g]:  # capsules: dark rim, lit core, a highlight straight above the axis
                pa, pb = points[self._capsule_ends[k][0]], points[self._capsule_ends[k][1]]
                width = thickness[k]
                if width >= 4:
                    cv2.line(image, pa, pb, paint(dark[k]), width, aa, _SHIFT)
                    cv2.line(image, pa, pb, paint(colour[k]), max(1, width - 2 - width // 6), aa, _SHIFT)
                    o = highlight[k]
                    cv2.line(image, (pa[0], pa[1] + o), (pb[0], pb[1] + o), paint(bright[k]),
                             max(1, width // 4), aa, _SHIFT)
                else:
                    cv2.line(image, pa, pb, paint(colour[k]), width, aa, _SHIFT)
            if g == self._head_group:  # the head over the neck, so the neck never covers its back
                hx, hy, hr, fx, fy, fr = self._head[frame].tolist()
                cv2.circle(image, (hx, hy), max(1, hr), paint(self.style.hair), -1, aa, _SHIFT)
                if self._face_visible[frame]:
                    cv2.circle(image, (fx, fy), max(1, fr), paint(self._face_colour[frame].tolist()), -1, aa, _SHIFT)


def make_occluder(rng: np.random.Generator, pixels: np.ndarray, num_frames: int,
                  probability: float) -> dict | None:
    """A random object in front of part of the person for a stretch of frames, or None.

    Args:
        pixels: (T, 17 or 32, 2) joint pixels at the output size.
        probability: chance that this video has an occluder.
    """
    if rng.uniform() >= probability:
        return None
    first = int(rng.integers(0, max(1, num_frames // 2)))
    last = int(min(num_frames - 1, first + rng.integers(num_frames // 5 + 1, num_frames // 2 + 2)))
    joints = pixels[first]
    extent = np.ptp(joints, axis=0).max()
    anchor = joints[rng.integers(len(joints))]
    return {
        "frames": (first, last),
        "centre": tuple(float(c) for c in anchor + rng.normal(0, 0.15 * extent, 2)),
        "size": tuple(float(s) for s in rng.uniform(0.2, 0.5, 2) * extent),
        "colour": _bgr(rng.uniform(0, 1), rng.uniform(0.2, 0.9), rng.uniform(0.2, 0.9)),
        "shape": str(rng.choice(["rect", "ellipse"])),
    }
