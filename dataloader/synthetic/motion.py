"""Procedural motion of the synthetic Human3.6M: per-action joint-angle and hand trajectories,
a root trajectory on the floor, and their animation into the 32 raw joints.

Every action builds a :class:`Motion` (channel trajectories sampled at the frame times) from a
numpy Generator, so a sequence is a pure function of its seed. Legs, spine, neck and root are
driven by joint angles; the hands follow targets given in the thorax frame (hand to ear, to
mouth, pointing…) and the arms reach them by two-bone IK, which turns the targets into shoulder
and elbow rotations for the forward kinematics. :func:`animate` then puts the feet on the floor
(the pelvis height follows from the leg angles and lengths) and places the body in the world.

Angles are radians; lengths are metres or, in the pose tables, fractions of the body height.
Side index 0 is left, 1 is right (``skeleton.SIDE_SIGN``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dataloader.h36m import ACTIONS, NUM_JOINTS_RAW
from dataloader.synthetic import skeleton as sk

# Floor point seen by all four cameras of every subject with the most room around it (a body
# box of ±0.45 m × 1.95 m stays inside all 28 images within a radius of ~1.1 m; measured with
# dataloader.camera on the real calibration).
CAPTURE_CENTRE = np.array([0.2, 0.65])
CAPTURE_RADIUS = 1.0
DEG = np.pi / 180.0


@dataclass
class Motion:
    """Channel trajectories of one sequence, T frames (see module docstring for units)."""
    yaw: np.ndarray                  # (T,) facing direction: angle of the body's forward axis from world x
    position: np.ndarray             # (T, 2) world xy of the pelvis (anchor 'pelvis') or of the feet midpoint ('feet')
    anchor: str                      # 'pelvis' (walking) or 'feet' (planted feet; the pelvis moves over them)
    lean: np.ndarray                 # (T,) whole-trunk pitch at the hips, forward +
    spine: np.ndarray                # (T, 3) bend forward +, side bend left +, twist left + (at Spine1)
    neck: np.ndarray                 # (T, 3) pitch down +, roll left +, yaw left + (at the neck base)
    hip: np.ndarray                  # (T, 2, 3) flexion forward +, abduction outward +, internal twist +
    knee: np.ndarray                 # (T, 2) flexion +
    ankle: np.ndarray                # (T, 2) foot pitch, toes down +, on top of keeping the foot level
    hand: np.ndarray                 # (T, 2, 3) wrist target in the thorax frame (origin neck base), metres
    pole: np.ndarray                 # (T, 2, 3) direction the elbow points to, thorax frame
    chair: bool = False              # a chair is under the pelvis when seated

    @classmethod
    def neutral(cls, num_frames: int, body: sk.Body) -> "Motion":
        """Standing at the capture centre facing +x, arms hanging."""
        hands = np.stack([_hand_key("rest", side, body.height) for side in (0, 1)])  # (2, 2, 3)
        return cls(
            yaw=np.zeros(num_frames), position=np.tile(CAPTURE_CENTRE, (num_frames, 1)), anchor="feet",
            lean=np.zeros(num_frames), spine=np.zeros((num_frames, 3)), neck=np.zeros((num_frames, 3)),
            hip=np.zeros((num_frames, 2, 3)), knee=np.zeros((num_frames, 2)), ankle=np.zeros((num_frames, 2)),
            hand=np.broadcast_to(hands[:, 0], (num_frames, 2, 3)).copy(),
            pole=np.broadcast_to(hands[:, 1], (num_frames, 2, 3)).copy(),
        )


@dataclass
class Animation:
    """World joint positions of a sequence and the props to draw with it."""
    positions: np.ndarray            # (T, 32, 3) world metres
    chair: np.ndarray | None = None  # (4,) seat centre x, y, seat height z (metres), yaw (radians)


# --- time-varying helpers ---------------------------------------------------------------------

def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class Track:
    """A value that holds between keys and eases (smoothstep) from one key to the next.

    ``track.move(value, at, over)`` holds the current value until time ``at`` and then eases
    to ``value`` over ``over`` seconds; keys must come in time order.
    """

    def __init__(self, value):
        self.times = [-1e9]
        self.values = [np.asarray(value, dtype=np.float64)]

    @property
    def end(self) -> float:
        return self.times[-1]

    def move(self, value, at: float, over: float) -> "Track":
        at = max(at, self.times[-1])
        self.times += [at, at + max(over, 1e-3)]
        self.values += [self.values[-1], np.asarray(value, dtype=np.float64)]
        return self

    def __call__(self, t: np.ndarray) -> np.ndarray:
        times = np.asarray(self.times)
        values = np.stack(self.values)                               # (K, ...)
        k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)
        k_next = np.minimum(k + 1, len(times) - 1)
        span = np.maximum(times[k_next] - times[k], 1e-9)
        w = _smoothstep((t - times[k]) / span).reshape((-1,) + (1,) * (values.ndim - 1))
        return values[k] + w * (values[k_next] - values[k])


def _wobble(rng: np.random.Generator, t: np.ndarray, amplitude, frequency: float,
            shape: tuple = ()) -> np.ndarray:
    """Smooth random motion: a sum of three sinusoids near ``frequency`` Hz with random phases,
    roughly within ±amplitude. Returns (T, *shape)."""
    out = np.zeros(t.shape + shape)
    for _ in range(3):
        f = frequency * rng.uniform(0.6, 1.5, size=shape)
        phase = rng.uniform(0, 2 * np.pi, size=shape)
        out += np.sin(2 * np.pi * f * t.reshape((-1,) + (1,) * len(shape)) + phase)
    return out * (np.asarray(amplitude) / 2.0)


def _events(rng: np.random.Generator, duration: float, period: tuple[float, float],
            first: tuple[float, float] = (-0.3, 0.6)) -> list[float]:
    """Start times of repeated events: the first in ``first`` seconds (may start before the
    clip, so clips begin mid-gesture), then every ``period`` seconds (uniform range)."""
    times = [rng.uniform(*first)]
    while times[-1] < duration:
        times.append(times[-1] + rng.uniform(*period))
    return times


# --- hand poses (thorax frame, fractions of height, left side; right mirrors y) --------------

_HAND_POSES = {
    # name: (target x, y, z), (pole x, y, z)
    "rest": ((0.03, 0.12, -0.36), (-1.0, 0.15, -0.3)),
    "ear": ((0.07, 0.09, 0.03), (0.3, 0.4, -1.0)),
    "mouth": ((0.1, 0.03, 0.02), (0.2, 0.6, -1.0)),
    "face": ((0.15, 0.045, 0.075), (0.0, 1.0, -1.2)),
    "hip": ((-0.01, 0.12, -0.2), (-0.8, 1.0, 0.0)),
    "overhead": ((0.03, 0.12, 0.3), (0.0, 1.0, 0.0)),
    "side": ((0.0, 0.41, 0.0), (-0.2, 0.0, -1.0)),
    "flex": ((0.0, 0.24, 0.13), (0.0, 1.0, -0.8)),
    "head": ((-0.05, 0.05, 0.12), (0.0, 1.0, 0.2)),
    "chest": ((0.17, 0.07, -0.12), (-0.2, 0.6, -1.0)),
    "table": ((0.22, 0.08, -0.2), (-0.3, 0.4, -1.0)),
    "thigh": ((0.17, 0.085, -0.24), (-0.5, 0.4, -1.0)),
    "lap": ((0.17, 0.02, -0.23), (-0.3, 0.6, -1.0)),
    "carry": ((0.14, 0.04, -0.2), (-0.3, 0.5, -1.0)),
    "reach_low": ((0.3, 0.06, -0.23), (-0.2, 0.5, -1.0)),
    "reach_up": ((0.25, 0.1, 0.2), (0.0, 0.5, -1.0)),
    "leash": ((0.25, 0.06, -0.17), (-0.3, 0.5, -1.0)),
    "wave": ((0.06, 0.2, 0.17), (0.0, 1.0, -1.0)),
    "shake": ((0.25, 0.02, -0.17), (-0.3, 0.5, -1.0)),
    "camera": ((0.12, 0.05, -0.1), (-0.3, 0.6, -1.0)),
    "cross": ((0.11, -0.09, -0.16), (-0.2, 1.0, -1.0)),
    "behind": ((-0.09, 0.05, -0.26), (-0.3, 1.0, -0.3)),
    "pocket": ((0.03, 0.115, -0.25), (-0.6, 0.8, -0.5)),
    "belly": ((0.08, -0.05, -0.17), (-0.2, 1.0, -1.0)),
    "cigarette": ((0.13, 0.07, -0.1), (-0.3, 0.6, -1.0)),
    "balance": ((0.25, 0.1, -0.15), (-0.3, 0.5, -1.0)),
}


def _hand_key(name: str, side: int, height: float, jitter: np.ndarray | None = None) -> np.ndarray:
    """(2, 3): wrist target and elbow pole of a named pose for one side, in metres."""
    target, pole = (np.array(v, dtype=np.float64) for v in _HAND_POSES[name])
    mirror = np.array([1.0, sk.SIDE_SIGN[side], 1.0])
    target = target * height * mirror
    if jitter is not None:
        target = target + jitter
    return np.stack([target, pole * mirror])


def _point_key(side: int, body: sk.Body, azimuth: float, elevation: float) -> np.ndarray:
    """(2, 3): an almost straight arm pointing along (azimuth, elevation) in the thorax frame."""
    h, sign = body.height, sk.SIDE_SIGN[side]
    shoulder = np.array([-0.005 * h, sign * 0.1 * h * body.shoulder_scale, -0.015 * h])
    direction = np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                          np.sin(elevation)])
    return np.stack([shoulder + 0.97 * (body.upper_arm + body.forearm) * direction,
                     np.array([0.0, sign, -1.0])])


class _Hands:
    """Two hand tracks plus the helpers the actions use to schedule gestures."""

    def __init__(self, rng: np.random.Generator, body: sk.Body, start=("rest", "rest")):
        self.rng, self.body = rng, body
        self.tracks = [Track(self.key(start[side], side)) for side in (0, 1)]

    def key(self, name: str, side: int, spread: float = 0.012) -> np.ndarray:
        return _hand_key(name, side, self.body.height, self.rng.normal(0, spread * self.body.height, 3))

    def move(self, side: int, pose, at: float, over: float) -> float:
        value = self.key(pose, side) if isinstance(pose, str) else pose
        self.tracks[side].move(value, at, over)
        return at + over

    def evaluate(self, motion: Motion, t: np.ndarray, wobble: float = 0.006) -> None:
        for side in (0, 1):
            value = self.tracks[side](t)                               # (T, 2, 3)
            motion.hand[:, side] = value[:, 0] + _wobble(self.rng, t, wobble * self.body.height, 0.4, (3,))
            motion.pole[:, side] = value[:, 1]


# --- building blocks -------------------------------------------------------------------------

def _place(rng: np.random.Generator, motion: Motion, t: np.ndarray, area: float,
           turn: float = 20 * DEG) -> None:
    """Random stance point near the capture centre, random facing with a slow drift."""
    radius = 0.45 * area * np.sqrt(rng.uniform())
    angle = rng.uniform(0, 2 * np.pi)
    motion.position[:] = CAPTURE_CENTRE + radius * np.array([np.cos(angle), np.sin(angle)])
    motion.yaw[:] = rng.uniform(0, 2 * np.pi) + _wobble(rng, t, turn, 0.08)


def _stance(rng: np.random.Generator, motion: Motion, t: np.ndarray, shift: float = 3 * DEG,
            width: float = 4 * DEG) -> np.ndarray:
    """Standing with weight shifts (both legs tilt together, the unloaded knee relaxes) and
    small trunk and head motion. Returns the weight shift (T,) (+: weight on the right leg)."""
    period = rng.uniform(3.0, 6.0)
    weight = shift * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)) + _wobble(rng, t, shift / 3, 0.3)
    base = rng.uniform(0.8, 1.2) * width
    motion.hip[:, 0, 1] = base + weight
    motion.hip[:, 1, 1] = base - weight
    relax = rng.uniform(2.0, 4.0)
    knee = rng.uniform(2, 6) * DEG
    motion.knee[:, 0] = knee + relax * np.maximum(weight, 0.0)
    motion.knee[:, 1] = knee + relax * np.maximum(-weight, 0.0)
    motion.hip[:, :, 0] = 0.5 * motion.knee
    motion.spine += _wobble(rng, t, np.array([2, 2, 3]) * DEG, 0.25, (3,))
    motion.neck += _wobble(rng, t, np.array([4, 2, 8]) * DEG, 0.3, (3,))
    return weight


def _seated(rng: np.random.Generator, motion: Motion, t: np.ndarray, area: float) -> None:
    """Sitting on a chair: thighs about horizontal, shins about vertical, feet planted."""
    _place(rng, motion, t, area, turn=8 * DEG)
    motion.chair = True
    knee = rng.uniform(75, 100) * DEG
    motion.hip[:, :, 0] = rng.uniform(82, 95) * DEG + _wobble(rng, t, 3 * DEG, 0.15, (2,))
    motion.hip[:, :, 1] = rng.uniform(4, 12) * DEG
    motion.knee[:] = knee + _wobble(rng, t, 8 * DEG, 0.1, (2,))
    motion.lean[:] = rng.uniform(-8, 8) * DEG + _wobble(rng, t, 4 * DEG, 0.15)
    motion.spine += _wobble(rng, t, np.array([3, 2, 4]) * DEG, 0.25, (3,))
    motion.neck += _wobble(rng, t, np.array([5, 2, 12]) * DEG, 0.25, (3,))


def _gait(rng: np.random.Generator, motion: Motion, t: np.ndarray, body: sk.Body, area: float,
          speed: float, arm_swing: float, speed_variation: float = 0.05, wander: float = 0.03) -> np.ndarray:
    """Walking loops around the capture centre at ``speed`` m/s (as subjects walk loops in the
    capture area); ``wander`` (fraction of the radius) bends the circle into an uneven path.
    Sets root, legs, trunk; returns the gait phase (T,) radians.

    The stride follows from the speed: speed = 4 L sin(A) f for leg length L, hip swing A and
    stride frequency f (two steps of 2 L sin A per cycle).
    """
    leg = body.thigh + body.shin
    amplitude = rng.uniform(18, 24) * DEG
    frequency = np.clip(speed / (4 * leg * np.sin(amplitude)), 0.75, 1.1)
    amplitude = np.arcsin(np.clip(speed / (4 * leg * frequency), 0.0, 0.6))
    dt = np.diff(t, prepend=t[0] - (t[1] - t[0] if len(t) > 1 else 0.02))
    modulation = 1.0 + _wobble(rng, t, speed_variation, 0.4)
    phase = rng.uniform(0, 2 * np.pi) + 2 * np.pi * frequency * np.cumsum(modulation * dt)
    distance = np.cumsum(speed * modulation * dt)

    radius = rng.uniform(0.75, 0.95) * area
    direction = rng.choice([-1.0, 1.0])
    angle = rng.uniform(0, 2 * np.pi) + direction * distance / max(radius, 0.3)
    centre = CAPTURE_CENTRE + rng.normal(0, 0.05, 2)
    radii = radius * (1.0 + _wobble(rng, t, wander, 0.3))
    motion.anchor = "pelvis"
    motion.position[:] = centre + radii[:, None] * np.stack([np.cos(angle), np.sin(angle)], -1)
    # face along the path (its tangent), with a little sway
    velocity = np.gradient(motion.position, axis=0)                     # needs T >= 2
    motion.yaw[:] = np.unwrap(np.arctan2(velocity[:, 1], velocity[:, 0])) + _wobble(rng, t, 3 * DEG, 0.3)

    for side, offset in ((0, 0.0), (1, np.pi)):
        p = phase + offset
        motion.hip[:, side, 0] = 4 * DEG + amplitude * np.sin(p)
        motion.hip[:, side, 1] = 3 * DEG
        # The knee flexes most early in swing, while the hip moves forward (cos p > 0).
        motion.knee[:, side] = 5 * DEG + rng.uniform(40, 50) * DEG * np.maximum(np.cos(p - 0.1), 0.0) ** 2
        motion.ankle[:, side] = 8 * DEG * np.maximum(np.cos(p + 1.2), 0.0)
        swing = arm_swing * body.height * np.sin(p + np.pi)             # arm swings with the other leg
        motion.hand[:, side, 0] += swing
        motion.hand[:, side, 2] += 0.25 * np.abs(swing)
    motion.spine[:, 2] += 3 * DEG * np.sin(phase)                       # trunk counter-rotation
    motion.lean[:] = rng.uniform(2, 5) * DEG
    motion.neck += _wobble(rng, t, np.array([3, 1, 6]) * DEG, 0.3, (3,))
    return phase


# --- the fifteen actions ---------------------------------------------------------------------

def _directions(rng, motion, t, body, area):
    """Pointing with a nearly straight arm, head following, at varied directions."""
    _place(rng, motion, t, area)
    _stance(rng, motion, t)
    hands = _Hands(rng, body, start=(rng.choice(["rest", "pocket"]),) * 2)
    head, twist = Track(0.0), Track(0.0)
    for start in _events(rng, t[-1], (2.2, 3.0)):
        side = int(rng.uniform() < 0.65)
        azimuth = sk.SIDE_SIGN[side] * rng.uniform(-10, 70) * DEG
        rise, hold, fall = rng.uniform(0.35, 0.5), rng.uniform(0.6, 1.1), rng.uniform(0.4, 0.5)
        idle = hands.tracks[side].values[-1]
        hands.move(side, _point_key(side, body, azimuth, rng.uniform(-15, 20) * DEG), start, rise)
        hands.move(side, idle, start + rise + hold, fall)
        head.move(0.7 * azimuth, start, rise + 0.1).move(rng.uniform(-0.2, 0.2), start + rise + hold, fall)
        twist.move(0.3 * azimuth, start, rise).move(0.0, start + rise + hold, fall)
    hands.evaluate(motion, t)
    motion.neck[:, 2] += head(t)
    motion.spine[:, 2] += twist(t)


def _discussion(rng, motion, t, body, area):
    """Conversation: both hands gesturing in front of the chest in bursts, head turning and nodding."""
    _place(rng, motion, t, area, turn=30 * DEG)
    _stance(rng, motion, t, shift=4 * DEG)
    h = body.height
    hands = _Hands(rng, body, start=("chest", "chest"))
    for side in (0, 1):
        if rng.uniform() < 0.25:  # one hand stays down for a while
            hands.move(side, rng.choice(["rest", "hip", "pocket"]), rng.uniform(0.5, 2.0), 0.5)
    hands.evaluate(motion, t)
    talk = Track(1.0)
    for start in _events(rng, t[-1], (1.5, 3.0)):
        talk.move(rng.uniform(0.3, 1.2), start, 0.4)
    frequency = rng.uniform(0.8, 1.5)
    for side in (0, 1):
        phase = rng.uniform(0, 2 * np.pi, 3)
        gesture = np.stack([np.sin(2 * np.pi * frequency * t + phase[k]) for k in range(3)], -1)
        motion.hand[:, side] += (talk(t)[:, None] * rng.uniform(0.035, 0.06) * h
                                 * gesture * np.array([1.0, 1.2, 0.8]))
    motion.neck[:, 2] += _wobble(rng, t, 25 * DEG, 0.25)
    motion.neck[:, 0] += 5 * DEG * np.sin(2 * np.pi * rng.uniform(0.6, 1.2) * t) ** 2
    motion.spine[:, 2] += _wobble(rng, t, 8 * DEG, 0.3)


def _eating(rng, motion, t, body, area):
    """Seated at a table: alternating hands bring food to the mouth; head bowed, trunk forward."""
    _seated(rng, motion, t, area)
    motion.lean += rng.uniform(8, 16) * DEG
    motion.neck[:, 0] += rng.uniform(8, 15) * DEG
    hands = _Hands(rng, body, start=("table", "table"))
    side = int(rng.integers(2))
    nod = Track(0.0)
    for start in _events(rng, t[-1], (1.5, 2.3), first=(-0.6, 0.3)):
        up, hold, down = rng.uniform(0.35, 0.5), rng.uniform(0.2, 0.4), rng.uniform(0.35, 0.5)
        hands.move(side, "mouth", start, up)
        hands.move(side, "table", start + up + hold, down)
        nod.move(-8 * DEG, start, up).move(0.0, start + up + hold, down)
        side = 1 - side if rng.uniform() < 0.85 else side
    hands.evaluate(motion, t)
    motion.neck[:, 0] += nod(t)


def _greeting(rng, motion, t, body, area):
    """Waving a raised hand, then a handshake with a small bow."""
    _place(rng, motion, t, area)
    _stance(rng, motion, t)
    h = body.height
    hands = _Hands(rng, body)
    bow = Track(0.0)
    wave_side = int(rng.uniform() < 0.7)
    waving = np.zeros_like(t)
    for start in _events(rng, t[-1], (2.6, 3.6), first=(-0.5, 0.3)):
        if rng.uniform() < 0.65:  # wave
            duration = rng.uniform(1.0, 1.6)
            hands.move(wave_side, "wave", start, 0.4)
            hands.move(wave_side, "rest", start + 0.4 + duration, 0.5)
            waving += (t > start + 0.2) & (t < start + 0.5 + duration)
        else:                      # handshake
            duration = rng.uniform(0.8, 1.2)
            hands.move(1, "shake", start, 0.5)
            hands.move(1, "rest", start + 0.5 + duration, 0.5)
            bow.move(rng.uniform(10, 20) * DEG, start, 0.5).move(0.0, start + 0.5 + duration, 0.5)
    hands.evaluate(motion, t)
    oscillation = 0.05 * h * np.sin(2 * np.pi * rng.uniform(2.0, 3.0) * t)
    motion.hand[:, wave_side, 1] += sk.SIDE_SIGN[wave_side] * oscillation * np.clip(waving, 0, 1)
    motion.spine[:, 0] += bow(t)
    motion.neck[:, 0] -= 0.5 * bow(t)


def _phoning(rng, motion, t, body, area):
    """Phone held at one ear, head tilted to it; the other hand idle or gesturing; slow turns."""
    _place(rng, motion, t, area, turn=45 * DEG)
    _stance(rng, motion, t)
    side = int(rng.uniform() < 0.7)
    idle = rng.choice(["rest", "hip", "pocket", "belly"])
    hands = _Hands(rng, body, start=("ear", idle) if side == 0 else (idle, "ear"))
    for start in _events(rng, t[-1], (2.0, 3.5), first=(0.0, 1.5)):
        if rng.uniform() < 0.5:
            hands.move(1 - side, "chest", start, 0.5)
            hands.move(1 - side, idle, start + 0.5 + rng.uniform(0.5, 1.2), 0.5)
    hands.evaluate(motion, t)
    motion.neck[:, 1] += sk.SIDE_SIGN[side] * rng.uniform(6, 12) * DEG
    motion.neck[:, 0] += rng.uniform(0, 10) * DEG


def _photo(rng, motion, t, body, area):
    """Taking photos: both hands raised to the face (camera) and held, sometimes crouching."""
    _place(rng, motion, t, area, turn=35 * DEG)
    _stance(rng, motion, t)
    hands = _Hands(rng, body, start=("camera", "camera"))
    crouch, twist = Track(0.0), Track(0.0)
    for start in _events(rng, t[-1], (2.2, 3.4), first=(-1.0, 0.3)):
        up, hold = rng.uniform(0.4, 0.6), rng.uniform(1.0, 1.8)
        for side in (0, 1):
            hands.move(side, "face", start, up)
            hands.move(side, "camera", start + up + hold, 0.5)
        depth = rng.uniform(0.3, 1.0) if rng.uniform() < 0.4 else 0.0
        crouch.move(depth, start, up).move(0.0, start + up + hold, 0.6)
        twist.move(rng.uniform(-20, 20) * DEG, start, up).move(0.0, start + up + hold, 0.6)
    hands.evaluate(motion, t)
    c = crouch(t)
    motion.knee += (60 * DEG * c)[:, None]
    motion.hip[:, :, 0] += (40 * DEG * c)[:, None]
    motion.lean += 20 * DEG * c
    motion.spine[:, 2] += twist(t)
    motion.neck[:, 0] += 5 * DEG


def _posing(rng, motion, t, body, area):
    """Holding poses for the camera: arms raised, hands on hips, flexing, T-pose, hands behind head."""
    _place(rng, motion, t, area)
    _stance(rng, motion, t, shift=2 * DEG, width=rng.uniform(6, 11) * DEG)
    poses = [("overhead", "overhead"), ("hip", "hip"), ("overhead", "hip"), ("hip", "overhead"),
             ("side", "side"), ("flex", "flex"), ("head", "head"), ("wave", "hip")]
    first = poses[rng.integers(len(poses))]
    hands = _Hands(rng, body, start=first)
    bend = Track(np.zeros(2))
    for start in _events(rng, t[-1], (1.3, 2.0), first=(0.4, 1.2)):
        pose = poses[rng.integers(len(poses))]
        over = rng.uniform(0.4, 0.6)
        for side in (0, 1):
            hands.move(side, pose[side], start, over)
        bend.move(rng.uniform(-10, 10, 2) * DEG, start, over)
    hands.evaluate(motion, t, wobble=0.003)
    motion.spine[:, 1:] += bend(t)
    motion.neck[:, 0] -= 5 * DEG


def _purchases(rng, motion, t, body, area):
    """Shopping: bending to reach low, straightening to carry, turning, reaching up to a shelf."""
    _place(rng, motion, t, area, turn=10 * DEG)
    _stance(rng, motion, t, shift=2 * DEG)
    hands = _Hands(rng, body, start=("carry", "carry"))
    bend, yaw = Track(0.0), Track(0.0)
    heading = 0.0
    for start in _events(rng, t[-1], (1.8, 2.6), first=(-0.8, 0.2)):
        kind = rng.uniform()
        if kind < 0.55:                                  # reach low with both hands
            for side in (0, 1):
                hands.move(side, "reach_low", start, 0.6)
                hands.move(side, "carry", start + 0.6 + rng.uniform(0.3, 0.7), 0.6)
            bend.move(rng.uniform(35, 55) * DEG, start, 0.6).move(0.0, start + 1.0, 0.6)
        elif kind < 0.85:                                # reach up with one hand
            side = int(rng.integers(2))
            hands.move(side, "reach_up", start, 0.5)
            hands.move(side, "carry", start + 0.5 + rng.uniform(0.3, 0.6), 0.5)
        heading += rng.uniform(-70, 70) * DEG             # turn to another shelf
        yaw.move(heading, start + 1.3, 0.7)
    hands.evaluate(motion, t)
    b = bend(t)
    motion.lean += 0.45 * b
    motion.spine[:, 0] += 0.55 * b
    motion.hip[:, :, 0] += (0.3 * b)[:, None]
    motion.knee += (0.5 * b)[:, None]
    motion.yaw += yaw(t)
    motion.neck[:, 0] += 10 * DEG


def _sitting(rng, motion, t, body, area):
    """Seated on a chair with small gestures: hands on thighs or lap, an occasional raised hand."""
    _seated(rng, motion, t, area)
    idle = rng.choice(["thigh", "lap"])
    hands = _Hands(rng, body, start=(idle, idle))
    for start in _events(rng, t[-1], (2.0, 3.5), first=(0.0, 1.5)):
        if rng.uniform() < 0.6:
            side = int(rng.integers(2))
            hands.move(side, rng.choice(["chest", "table", "mouth"]), start, 0.5)
            hands.move(side, idle, start + 0.5 + rng.uniform(0.4, 1.0), 0.5)
    hands.evaluate(motion, t)
    stretch = Track(np.zeros(2))
    if rng.uniform() < 0.5:  # stretch one leg forward for a while
        side = int(rng.integers(2))
        value = np.zeros(2)
        value[side] = -rng.uniform(30, 50) * DEG
        stretch.move(value, rng.uniform(-1.0, 2.0), 0.8)
    motion.knee += stretch(t)


def _sitting_down(rng, motion, t, body, area):
    """Stand → sit on a chair (trunk swings forward, arms forward for balance), and back up
    again in long sequences."""
    _place(rng, motion, t, area, turn=5 * DEG)
    motion.chair = True
    _stance(rng, motion, t, shift=1.5 * DEG)
    hip_sit, knee_sit = rng.uniform(82, 95) * DEG, rng.uniform(80, 100) * DEG
    hip, knee, lean = Track(0.0), Track(0.0), Track(0.0)
    hands = _Hands(rng, body)
    # short clips must still show the whole transition, and end seated on the chair
    duration = max(t[-1], 0.1)
    time = rng.uniform(-0.2, 0.2) * min(1.0, duration / 2.0) + min(0.3, 0.15 * duration)
    while time < t[-1]:
        down = min(rng.uniform(1.1, 1.6), 0.6 * duration)
        hip.move(hip_sit, time, down)
        knee.move(knee_sit, time, down)
        lean.move(rng.uniform(30, 45) * DEG, time, 0.6 * down)
        lean.move(rng.uniform(0, 10) * DEG, time + 0.6 * down, 0.4 * down)
        for side in (0, 1):
            hands.move(side, "balance", time, 0.5 * down)
            hands.move(side, "thigh", time + 0.5 * down, 0.5 * down)
        time += down + rng.uniform(3.0, 6.0)
        up = rng.uniform(1.0, 1.4)
        hip.move(0.0, time, up)
        knee.move(0.0, time, up)
        lean.move(rng.uniform(30, 40) * DEG, time, 0.4 * up).move(0.0, time + 0.4 * up, 0.6 * up)
        for side in (0, 1):
            hands.move(side, "thigh", time, 0.3 * up)
            hands.move(side, "rest", time + 0.3 * up, 0.7 * up)
        time += up + rng.uniform(1.5, 3.0)
    hands.evaluate(motion, t)
    seated = hip(t) / hip_sit                                          # 0 standing … 1 seated
    motion.hip[:, :, 0] = (1 - seated)[:, None] * motion.hip[:, :, 0] + hip(t)[:, None]
    motion.knee[:] = (1 - seated)[:, None] * motion.knee + knee(t)[:, None]
    motion.hip[:, :, 1] += (6 * DEG * seated)[:, None]
    motion.lean += lean(t)


def _smoking(rng, motion, t, body, area):
    """Cigarette hand idles bent in front, the other arm across the belly; slow lifts to the
    mouth with long holds, head tipping back to exhale."""
    _place(rng, motion, t, area)
    _stance(rng, motion, t)
    side = int(rng.uniform() < 0.7)
    support = rng.choice(["belly", "rest", "pocket"])
    hands = _Hands(rng, body, start=("cigarette", support) if side == 0 else (support, "cigarette"))
    exhale = Track(0.0)
    for start in _events(rng, t[-1], (3.4, 5.0), first=(-2.0, 0.5)):
        up, hold, down = rng.uniform(0.8, 1.0), rng.uniform(0.9, 1.6), rng.uniform(0.7, 0.9)
        hands.move(side, "mouth", start, up)
        hands.move(side, "cigarette", start + up + hold, down)
        exhale.move(-rng.uniform(8, 15) * DEG, start + up + hold, 0.5).move(0.0, start + up + hold + 1.2, 0.6)
    hands.evaluate(motion, t, wobble=0.004)
    motion.neck[:, 0] += exhale(t)


def _waiting(rng, motion, t, body, area):
    """Standing with large weight shifts, arms crossed / behind the back / in pockets, looking around."""
    _place(rng, motion, t, area, turn=30 * DEG)
    _stance(rng, motion, t, shift=rng.uniform(4, 6) * DEG)
    arms = [("cross", "cross"), ("behind", "behind"), ("pocket", "pocket"), ("rest", "rest"), ("hip", "hip")]
    hands = _Hands(rng, body, start=arms[rng.integers(len(arms))])
    look = Track(0.0)
    for start in _events(rng, t[-1], (1.5, 2.5), first=(-0.5, 0.5)):
        look.move(rng.choice([-1, 1]) * rng.uniform(30, 60) * DEG, start, rng.uniform(0.4, 0.7))
        look.move(rng.uniform(-10, 10) * DEG, start + rng.uniform(1.0, 1.8), 0.6)
        if rng.uniform() < 0.2:
            pose = arms[rng.integers(len(arms))]
            for side in (0, 1):
                hands.move(side, pose[side], start, 0.7)
    hands.evaluate(motion, t)
    motion.neck[:, 2] += look(t)
    motion.spine[:, 2] += 0.25 * look(t)


def _walking(rng, motion, t, body, area):
    """Walking loops at normal pace with symmetric arm swing."""
    _gait(rng, motion, t, body, area, speed=rng.uniform(1.1, 1.45), arm_swing=rng.uniform(0.07, 0.11))


def _walk_dog(rng, motion, t, body, area):
    """Walking a dog: the leash hand held forward and pulled in jerks, irregular pace, leaning
    forward, looking down at the dog."""
    side = int(rng.uniform() < 0.6)
    hands = _Hands(rng, body)
    hands.move(side, "leash", -1.0, 0.1)
    hands.evaluate(motion, t)
    _gait(rng, motion, t, body, area, speed=rng.uniform(0.95, 1.3), arm_swing=rng.uniform(0.06, 0.09),
          speed_variation=0.15, wander=0.15)
    # the leash arm does not swing: restore its target and add the pulls
    motion.hand[:, side] = hands.tracks[side](t)[:, 0]
    pull = np.maximum(_wobble(rng, t, 1.0, 1.2), 0.0) ** 2
    motion.hand[:, side, 0] += 0.06 * body.height * pull
    motion.hand[:, side] += _wobble(rng, t, 0.015 * body.height, 1.5, (3,))
    motion.lean += rng.uniform(4, 9) * DEG
    motion.neck[:, 0] += rng.uniform(10, 20) * DEG
    motion.neck[:, 2] += sk.SIDE_SIGN[side] * rng.uniform(5, 15) * DEG


def _walk_together(rng, motion, t, body, area):
    """Walking slowly beside someone: reduced arm swing, repeated sideways glances at the partner."""
    start = rng.choice(["rest", "pocket", "behind"], p=[0.6, 0.25, 0.15])
    hands = _Hands(rng, body, start=(start, start))
    hands.evaluate(motion, t)
    _gait(rng, motion, t, body, area, speed=rng.uniform(0.7, 0.95),
          arm_swing=rng.uniform(0.02, 0.05) if start == "rest" else 0.005, wander=0.06)
    partner = rng.choice([-1.0, 1.0])
    glance = Track(0.0)
    for time in _events(rng, t[-1], (1.3, 2.5), first=(-0.6, 0.4)):
        glance.move(partner * rng.uniform(30, 55) * DEG, time, 0.35)
        glance.move(partner * rng.uniform(0, 10) * DEG, time + rng.uniform(0.5, 1.2), 0.4)
    motion.neck[:, 2] += glance(t)
    motion.spine[:, 2] += 0.2 * glance(t)


ACTION_MOTIONS = {
    "Directions": _directions, "Discussion": _discussion, "Eating": _eating, "Greeting": _greeting,
    "Phoning": _phoning, "Photo": _photo, "Posing": _posing, "Purchases": _purchases,
    "Sitting": _sitting, "SittingDown": _sitting_down, "Smoking": _smoking, "Waiting": _waiting,
    "WalkDog": _walk_dog, "Walking": _walking, "WalkTogether": _walk_together,
}
assert set(ACTION_MOTIONS) == set(ACTIONS)


def make_motion(action: str, rng: np.random.Generator, num_frames: int, body: sk.Body,
                fps: float = 50.0, area: float = 1.0) -> Motion:
    """Channel trajectories of one sequence of ``action``.

    Args:
        action: canonical action key (``dataloader.h36m.ACTIONS``).
        rng: the sequence's Generator (all randomness comes from it).
        num_frames: T; fps: frame rate (Hz).
        body: the subject's proportions.
        area: 0..1, scales how far from the capture centre the subject may go.
    """
    if action not in ACTION_MOTIONS:
        raise KeyError(f"no synthetic motion for action {action!r}; valid: {', '.join(ACTION_MOTIONS)}")
    t = np.arange(num_frames) / fps
    motion = Motion.neutral(num_frames, body)
    ACTION_MOTIONS[action](rng, motion, t, body, area)
    return motion


# --- animation ------------------------------------------------------------------------------

# Joint limits (radians) applied before the kinematics: hip flexion/abduction/twist, knee.
_HIP_LIMITS = np.array([[-30, 120], [-20, 45], [-30, 30]]) * DEG
_KNEE_LIMITS = np.array([0, 145]) * DEG


def _local_rotations(motion: Motion) -> np.ndarray:
    """(T, 32, 3, 3) local joint rotations from the channels (arms left at rest)."""
    num_frames = len(motion.yaw)
    rotations = np.broadcast_to(np.eye(3), (num_frames, NUM_JOINTS_RAW, 3, 3)).copy()
    rotations[:, sk.HIPS] = sk.rot_z(motion.yaw)
    rotations[:, sk.SPINE] = sk.rot_y(motion.lean)
    bend, side_bend, twist = motion.spine.T
    rotations[:, sk.SPINE1] = sk.rot_y(bend) @ sk.rot_x(-side_bend) @ sk.rot_z(twist)
    rotations[:, sk.NECK] = sk.rot_z(motion.neck[:, 2]) @ sk.rot_y(motion.neck[:, 0]) @ sk.rot_x(-motion.neck[:, 1])
    hip = np.clip(motion.hip, _HIP_LIMITS[:, 0], _HIP_LIMITS[:, 1])
    knee = np.clip(motion.knee, *_KNEE_LIMITS)
    for side, sign in enumerate(sk.SIDE_SIGN):
        flexion, abduction, twist = hip[:, side].T
        rotations[:, sk.HIP_JOINT[side]] = sk.rot_y(-flexion) @ sk.rot_x(sign * abduction) @ sk.rot_z(-sign * twist)
        rotations[:, sk.KNEE_JOINT[side]] = sk.rot_y(knee[:, side])
        # keep the foot level with the floor (undo the leg's pitch), plus the requested pitch
        rotations[:, sk.ANKLE_JOINT[side]] = sk.rot_y(flexion - knee[:, side] + motion.ankle[:, side])
    return rotations


def animate(motion: Motion, body: sk.Body) -> Animation:
    """World positions of the 32 joints for a motion, feet on the floor.

    Two passes of forward kinematics: the first gives the thorax frame and shoulders, where the
    hand targets are solved by two-bone IK; the second poses the arms. The root height is set so
    the lowest sole point touches z = 0; the root xy follows ``motion.anchor``.
    """
    offsets = sk.rest_offsets(body)
    rotations = _local_rotations(motion)
    num_frames = len(motion.yaw)
    origin = np.zeros((num_frames, 3))
    positions, global_rot = sk.forward_kinematics(offsets, rotations, origin)

    thorax = global_rot[:, sk.SPINE1]                                   # (T, 3, 3) frame of the clavicles
    neck = positions[:, sk.NECK]
    for side in (0, 1):
        target = neck + np.einsum("tij,tj->ti", thorax, motion.hand[:, side])
        pole = np.einsum("tij,tj->ti", thorax, motion.pole[:, side])
        upper_global, flexion = sk.two_bone_ik(positions[:, sk.SHOULDER_JOINT[side]], target, pole,
                                               body.upper_arm, body.forearm)
        rotations[:, sk.SHOULDER_JOINT[side]] = np.swapaxes(thorax, -1, -2) @ upper_global
        rotations[:, sk.ELBOW_JOINT[side]] = sk.rot_y(-flexion)
    positions, _ = sk.forward_kinematics(offsets, rotations, origin)

    if motion.anchor == "feet":
        anchor = positions[:, list(sk.ANKLE_JOINT), :2].mean(axis=1)
    elif motion.anchor == "pelvis":
        anchor = positions[:, sk.HIPS, :2]
    else:
        raise ValueError(f"unknown motion anchor {motion.anchor!r}; valid: 'feet', 'pelvis'")
    shift = np.concatenate([motion.position - anchor, sk.floor_offset(positions, body)[:, None]], axis=1)
    positions += shift[:, None, :]

    chair = None
    if motion.chair:
        seated = int(np.argmin(positions[:, sk.HIPS, 2]))
        forward = np.array([np.cos(motion.yaw[seated]), np.sin(motion.yaw[seated])])
        seat_xy = positions[seated, sk.HIPS, :2] + 0.05 * body.height * forward
        chair = np.array([*seat_xy, positions[seated, sk.HIPS, 2] - 0.05 * body.height, motion.yaw[seated]])
    return Animation(positions=positions, chair=chair)
