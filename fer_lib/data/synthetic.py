"""Procedurally drawn cartoon faces: the embedded dataset that lets everything run with no download.

Each image is a face (oval, eyes with iris, brows, nose, mouth) whose feature shapes depend on the
expression, blended from neutral by a random intensity in [0.35, 1] so weak expressions look
nearly neutral:
  Happy     upturned, wider mouth, slightly narrowed eyes
  Sad       downturned mouth, inner brow ends raised
  Surprise  open round mouth, raised brows, wide eyes
  Fear      wide eyes, raised brows (inner ends up), slightly open wide mouth
  Angry     inner brow ends lowered, narrow eyes, flat pressed mouth
  Disgust   wrinkled nose bridge, one side of the upper lip raised, tilted mouth
  Neutral   flat mouth, relaxed brows
Nuisances: face shape, skin and background tone, rotation (+-15 deg), scale, shift, a lighting
gradient, contrast, Gaussian noise and, in a quarter of the images, an occluding rectangle.
Numpy only, vectorised over the batch; deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

import numpy as np

from fer_lib.data.core import CANONICAL_CLASSES, FERDataset
from fer_lib.data.registry import DatasetSpec, register_dataset

SYNTHETIC_CLASSES: tuple[str, ...] = CANONICAL_CLASSES[:7]
SPLIT_FRACTIONS = (("train", 0.70), ("val", 0.15), ("test", 0.15))

# Expression parameters: neutral values and each class's full-intensity values (face units: the
# face spans about [-0.75, 0.75] x [-0.95, 0.95], v grows downwards).
NEUTRAL = dict(curve=0.0, mouth_open=0.0, mouth_width=0.27, mouth_thick=0.045, tilt=0.0, eye_open=0.065,
               brow_raise=0.0, brow_inner=0.0, wrinkle=0.0, lip_raise=0.0)
EXPRESSIONS: dict[str, dict[str, float]] = {
    "Angry": dict(brow_inner=0.14, brow_raise=-0.02, eye_open=0.045, mouth_width=0.2, mouth_thick=0.05, curve=-0.1),
    "Disgust": dict(wrinkle=1.0, lip_raise=0.09, tilt=0.18, curve=-0.2, eye_open=0.045, brow_inner=0.05),
    "Fear": dict(eye_open=0.1, brow_raise=0.08, brow_inner=-0.06, mouth_open=0.05, mouth_width=0.3, curve=-0.15),
    "Happy": dict(curve=0.6, mouth_width=0.33, eye_open=0.045, mouth_open=0.025),
    "Sad": dict(curve=-0.55, brow_inner=-0.12, eye_open=0.055, mouth_width=0.23),
    "Surprise": dict(mouth_open=0.16, mouth_width=0.13, brow_raise=0.13, eye_open=0.1),
    "Neutral": dict(),
}
JITTER = dict(curve=0.08, mouth_open=0.01, mouth_width=0.025, mouth_thick=0.006, tilt=0.03, eye_open=0.008,
              brow_raise=0.02, brow_inner=0.02, wrinkle=0.0, lip_raise=0.0)


def _expression_params(labels: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-image expression parameters: neutral + intensity * (class - neutral) + jitter."""
    intensity = rng.uniform(0.35, 1.0, len(labels))
    params = {}
    for key, base in NEUTRAL.items():
        target = np.array([EXPRESSIONS[c].get(key, base) for c in SYNTHETIC_CLASSES])[labels]
        params[key] = base + intensity * (target - base) + rng.normal(0.0, JITTER[key], len(labels))
    params["mouth_open"] = np.clip(params["mouth_open"], 0.0, None)
    params["eye_open"] = np.clip(params["eye_open"], 0.02, None)
    params["side"] = rng.choice([-1.0, 1.0], len(labels))          # which side disgust raises / tilts
    return params


def _nuisance_params(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-image identity, pose, lighting and occlusion parameters."""
    return dict(
        angle=np.deg2rad(rng.uniform(-15, 15, n)), scale=rng.uniform(0.8, 1.05, n),
        dx=rng.uniform(-0.1, 0.1, n), dy=rng.uniform(-0.1, 0.1, n),
        face_w=rng.uniform(0.62, 0.78, n), face_h=rng.uniform(0.82, 0.95, n),
        eye_x=rng.uniform(0.26, 0.34, n), eye_y=rng.uniform(-0.24, -0.14, n), mouth_y=rng.uniform(0.42, 0.55, n),
        skin=rng.uniform(0.5, 0.85, n), background=rng.uniform(0.05, 0.6, n), hair=rng.uniform(0.0, 0.35, n),
        has_hair=rng.random(n) < 0.6, feature=rng.uniform(0.05, 0.25, n),
        light=rng.uniform(0.0, 0.45, n), light_dir=rng.uniform(0, 2 * np.pi, n),
        contrast=rng.uniform(0.7, 1.15, n), brightness=rng.uniform(-0.1, 0.1, n), noise=rng.uniform(0.02, 0.07, n),
        occlude=rng.random(n) < 0.25, occ_x=rng.uniform(-1, 1, n), occ_y=rng.uniform(-1, 1, n),
        occ_w=rng.uniform(0.2, 0.5, n), occ_h=rng.uniform(0.2, 0.5, n), occ_val=rng.uniform(0.0, 1.0, n),
        noise_seed=rng.integers(0, 2**31, n),
    )


def _col(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)[:, None, None]


def _soft(distance: np.ndarray, aa: float) -> np.ndarray:
    """Coverage in [0,1] from a signed distance (negative inside), antialiased over `aa`."""
    return np.clip(0.5 - distance / aa, 0.0, 1.0)


def _ellipse(u, v, cu, cv, ru, rv):
    return (np.sqrt(((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2) - 1.0) * np.minimum(ru, rv)


def _segment(u, v, u1, v1, u2, v2):
    du, dv = u2 - u1, v2 - v1
    t = np.clip(((u - u1) * du + (v - v1) * dv) / (du * du + dv * dv + 1e-9), 0.0, 1.0)
    return np.sqrt((u - u1 - t * du) ** 2 + (v - v1 - t * dv) ** 2)


def _draw_mouth(img: np.ndarray, u: np.ndarray, v: np.ndarray, e: dict[str, np.ndarray], p: dict[str, np.ndarray],
                ink: np.ndarray, aa: float) -> np.ndarray:
    """The mouth on a batch of faces (face coordinates u, v): open cavity, then the lip line."""
    # open cavity, then the lip line (a parabola, corners up for curve > 0, tilted, one side raised)
    my, mw = _col(p["mouth_y"]), _col(e["mouth_width"])
    opening = _col(e["mouth_open"])
    cavity = _soft(_ellipse(u, v, 0.0, my, mw * 0.85, np.maximum(opening, 0.01)), aa) * (opening > 0.01)
    img = img + cavity * (ink * 0.6 - img)
    side = _col(e["side"])
    un = np.clip(u / mw, -1.0, 1.0)
    line_v = my - _col(e["curve"]) * 0.24 * un * un + _col(e["tilt"]) * side * 0.2 * un
    line_v = line_v - _col(e["lip_raise"]) * np.clip(side * un, 0.0, 1.0)
    lip = _soft(np.maximum(np.abs(v - line_v) - _col(e["mouth_thick"]) / 2, np.abs(u) - mw), aa)
    lip = lip * (1.0 - cavity * (opening > 0.02))
    img = img + lip * (ink - img)

    return img


def _lighting_and_noise(img: np.ndarray, x: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    """Lighting gradient, contrast and brightness, an occluding patch, then sensor noise."""
    gradient = np.cos(_col(p["light_dir"])) * x + np.sin(_col(p["light_dir"])) * y
    img = img * (1.0 + _col(p["light"]) * gradient)
    img = (img - 0.5) * _col(p["contrast"]) + 0.5 + _col(p["brightness"])
    occ = ((np.abs(x - _col(p["occ_x"])) < _col(p["occ_w"])) & (np.abs(y - _col(p["occ_y"])) < _col(p["occ_h"]))
           & _col(p["occlude"]).astype(bool))
    img = np.where(occ, _col(p["occ_val"]), img)
    noise_rng = np.random.default_rng(int(p["noise_seed"][0]))
    img = img + noise_rng.standard_normal(img.shape, dtype=np.float32) * _col(p["noise"])
    return img


def _render(e: dict[str, np.ndarray], p: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Draw a batch of faces as float images in [0, 1] (vectorised over the batch)."""
    n = len(p["angle"])
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    x, y = grid[None, None, :], grid[None, :, None]
    cos, sin, s = _col(np.cos(p["angle"])), _col(np.sin(p["angle"])), _col(p["scale"])
    xs, ys = x - _col(p["dx"]), y - _col(p["dy"])
    u = (cos * xs + sin * ys) / s
    v = (-sin * xs + cos * ys) / s
    aa = 2.5 / size / float(np.mean(p["scale"]))
    ink = _col(p["feature"])

    # background with a lighting gradient, then face, hair
    img = np.broadcast_to(_col(p["background"]), (n, size, size)).astype(np.float32)
    face = _soft(_ellipse(u, v, 0.0, 0.0, _col(p["face_w"]), _col(p["face_h"])), aa)
    img = img + face * (_col(p["skin"]) - img)
    hair = face * _soft(v + 0.62 - 0.08 * u * u, aa) * _col(p["has_hair"])
    img = img + hair * (_col(p["hair"]) - img)

    # eyes: sclera ellipses with an iris
    ex, ey, eo = _col(p["eye_x"]), _col(p["eye_y"]), _col(e["eye_open"])
    for side in (-1.0, 1.0):
        sclera = _soft(_ellipse(u, v, side * ex, ey, 0.13, eo), aa)
        img = img + sclera * (0.92 - img)
        iris = sclera * _soft(_ellipse(u, v, side * ex, ey, 0.065, 0.065), aa)
        img = img + iris * (ink - img)

    # brows: segments whose inner ends move with brow_inner, all raised by brow_raise
    brow_v = ey - 0.16 - _col(e["brow_raise"])
    for side in (-1.0, 1.0):
        d = _segment(u, v, side * 0.1, brow_v + _col(e["brow_inner"]), side * (ex + 0.16), brow_v - 0.02)
        img = img + _soft(d - 0.04, aa) * (ink - img)

    # nose and, for disgust, wrinkles across the bridge
    nose = _soft(_segment(u, v, 0.0, ey + 0.1, 0.04, 0.22) - 0.012, aa) * 0.6
    img = img + nose * (ink - img)
    wrinkle = _col(e["wrinkle"])
    for dv in (-0.02, 0.04, 0.1):
        d = _segment(u, v, -0.08, ey + dv + 0.05, 0.08, ey + dv + 0.05)
        img = img + wrinkle * _soft(d - 0.012, aa) * (ink - img)

    img = _draw_mouth(img, u, v, e, p, ink, aa)
    img = _lighting_and_noise(img, x, y, p)
    return np.clip(img, 0.0, 1.0)


def render_faces(labels: np.ndarray, size: int = 48, seed: int = 0, chunk: int = 512) -> np.ndarray:
    """uint8 (N,size,size) synthetic faces for the given labels (indices into SYNTHETIC_CLASSES)."""
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    expr, nuis = _expression_params(labels, rng), _nuisance_params(len(labels), rng)
    out = np.empty((len(labels), size, size), dtype=np.uint8)
    for start in range(0, len(labels), chunk):
        sl = slice(start, start + chunk)
        img = _render({k: v[sl] for k, v in expr.items()}, {k: v[sl] for k, v in nuis.items()}, size)
        out[sl] = np.round(img * 255).astype(np.uint8)
    return out


@lru_cache(maxsize=4)
def _generate(n_per_class: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    k = len(SYNTHETIC_CLASSES)
    labels = np.repeat(np.arange(k, dtype=np.int64), n_per_class)
    position = np.tile(np.arange(n_per_class), k)
    bounds = np.cumsum([round(f * n_per_class) for _, f in SPLIT_FRACTIONS])
    split = np.array([name for name, _ in SPLIT_FRACTIONS])[np.searchsorted(bounds, position, side="right").clip(0, 2)]
    order = np.random.default_rng([seed, 1]).permutation(len(labels))
    labels, split = labels[order], split[order]
    images = render_faces(labels, size=size, seed=seed)
    digest = hashlib.sha256()
    for array in (images, labels, split.astype("U8")):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(json.dumps({"n_per_class": n_per_class, "size": size, "seed": seed, "generator": 1}).encode())
    for array in (images, labels, split):
        array.setflags(write=False)
    return images, labels, split, digest.hexdigest()


def load_synthetic(data_dir=None, n_per_class: int = 400, size: int = 48, seed: int = 0) -> FERDataset:
    """The synthetic dataset: 7 classes x n_per_class grayscale faces, splits train/val/test 70/15/15."""
    if n_per_class < 3 or size < 16:
        raise ValueError(f"synthetic: need n_per_class >= 3 and size >= 16, got {n_per_class}, {size}")
    images, labels, split, sha = _generate(int(n_per_class), int(size), int(seed))
    return FERDataset(name="synthetic", images=images.copy(), labels=labels.copy(), split=split.copy(),
                      class_names=SYNTHETIC_CLASSES, sha256=sha,
                      source=f"synthetic(n_per_class={n_per_class}, size={size}, seed={seed}): generated, no file")


register_dataset(DatasetSpec(
    name="synthetic", description="procedurally drawn faces, 7 classes, 48x48 grayscale (embedded, no download)",
    load=load_synthetic, own_classes=SYNTHETIC_CLASSES, layout="(none: generated)", url="(embedded)",
    options={"n_per_class": 400, "size": 48, "seed": 0},
))
