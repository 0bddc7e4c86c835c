"""Batched, seeded augmentation and the one preprocessing path used for training, evaluation and live use.

Training batch path (all on the device that holds the data, no per-image Python):
    uint8 (B,C,H,W) -> float [0,1] -> resize to input size (bilinear, antialias) -> Augment (per-sample
    random parameters: flip, one affine grid_sample for rotation/translation/zoom, brightness,
    contrast, saturation, hue, Gaussian blur) -> grayscale replicated to 3 channels -> normalise.
Resizing comes first, as in a torchvision `Resize -> Random* -> Normalize` pipeline, so blur kernels
and translations act at the resolution the model sees (P1 resizes 48 -> 224 before augmenting).
Random parameters are drawn on the CPU from an explicit `torch.Generator` (B numbers per op) and moved
to the data's device, so a run is reproducible from its seed and one generator drives every op.
Colour jitter is applied in the fixed order brightness, contrast, saturation, hue (torchvision's
ColorJitter shuffles the order per call); saturation and hue are no-ops on 1-channel images, as they
are on grayscale replicated to RGB.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

RECIPE_KEYS = ("hflip", "rotate_deg", "translate", "zoom", "brightness", "contrast", "saturation", "hue", "blur")
_LUMA = (0.2989, 0.587, 0.114)  # ITU-R 601-2, as torchvision's rgb_to_grayscale


# ---------------------------------------------------------------- preprocessing (eval path)

def to_nchw(batch: torch.Tensor) -> torch.Tensor:
    """(B,H,W) / (B,H,W,C) / (B,C,H,W) -> (B,C,H,W); a trailing dim of 1 or 3 is read as channels-last."""
    if batch.dim() == 3:
        return batch.unsqueeze(1)
    if batch.dim() != 4:
        raise ValueError(f"expected a batch of images (B,H,W), (B,H,W,C) or (B,C,H,W), got shape {tuple(batch.shape)}")
    if batch.shape[-1] in (1, 3) and batch.shape[1] not in (1, 3):
        return batch.permute(0, 3, 1, 2)
    return batch


def to_float(batch_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 images in any accepted layout -> float32 (B,C,H,W) in [0, 1]."""
    x = to_nchw(batch_uint8)
    if x.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images, got {x.dtype}")
    return x.float().div_(255.0)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear (antialiased) resize of a float (B,C,H,W) batch to size x size; no-op when already there."""
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Replicate a 1-channel batch to 3 channels (views, no copy); 3-channel input passes through."""
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(x - mean) / std per channel on a 3-channel float batch."""
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def preprocess(batch_uint8: torch.Tensor, input_size: int, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 (B,H,W)/(B,H,W,3) -> normalised float (B,3,S,S): /255, resize, gray->3 channels, normalise."""
    return normalize(to_rgb(resize(to_float(batch_uint8), input_size)), mean, std)


# ---------------------------------------------------------------- per-sample ops (functional)

def hflip(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Flip horizontally the samples where mask (B,) is True."""
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x)


def affine(x: torch.Tensor, angle_deg: torch.Tensor, translate: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Per-sample rotation (degrees, counter-clockwise), translation (pixels (B,2): x right, y down)
    and zoom (scale > 1 enlarges) about the image centre, one grid_sample, zero fill outside."""
    b, _, h, w = x.shape
    a = torch.deg2rad(angle_deg.to(x.dtype))
    cos, sin = torch.cos(a), torch.sin(a)
    # Output pixel p (pixel units, origin at centre) samples input R(-a) (p - t) / s. Screen rotation
    # counter-clockwise with y pointing down is R = [[cos, sin], [-sin, cos]] in (x, y) coordinates.
    inv = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2) / scale.view(-1, 1, 1)
    t = translate.to(x.dtype)
    shift = -(inv @ t.unsqueeze(-1)).squeeze(-1)
    # Normalised coordinates: u = x / (w/2), v = y / (h/2).
    n = torch.tensor([w / 2.0, h / 2.0], dtype=x.dtype, device=x.device)
    theta = torch.empty(b, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, :, :2] = inv * n.view(1, 1, 2) / n.view(1, 2, 1)
    theta[:, :, 2] = shift / n
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _gray(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """x * factor (per sample), clamped to [0, 1]."""
    return (x * factor.view(-1, 1, 1, 1)).clamp_(0.0, 1.0)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the per-sample mean grey level: factor 0 -> flat grey, 1 -> unchanged."""
    f = factor.view(-1, 1, 1, 1)
    mean = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
    return (f * x + (1 - f) * mean).clamp_(0.0, 1.0)


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the grayscale image: factor 0 -> gray, 1 -> unchanged; 1-channel input unchanged."""
    if x.shape[1] == 1:
        return x
    f = factor.view(-1, 1, 1, 1)
    return (f * x + (1 - f) * _gray(x)).clamp_(0.0, 1.0)


def _rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(1)
    maxc, _ = x.max(1)
    minc, _ = x.min(1)
    delta = maxc - minc
    s = delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc))
    d = torch.where(delta > 0, delta, torch.ones_like(delta))
    h = torch.where(maxc == r, ((g - b) / d) % 6.0,
                    torch.where(maxc == g, (b - r) / d + 2.0, (r - g) / d + 4.0))
    h = torch.where(delta > 0, h / 6.0, torch.zeros_like(h))
    return torch.stack([h, s, maxc], 1)


def _hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    h, s, v = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    n = torch.tensor([5.0, 3.0, 1.0], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    k = (n + h * 6.0) % 6.0
    return v - v * s * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)


def adjust_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate hue by `shift` (fraction of a turn, per sample, in [-0.5, 0.5]); 1-channel input unchanged."""
    if x.shape[1] == 1:
        return x
    hsv = _rgb_to_hsv(x)
    hsv[:, 0] = (hsv[:, 0] + shift.view(-1, 1, 1)) % 1.0
    return _hsv_to_rgb(hsv).clamp_(0.0, 1.0)


def gaussian_blur(x: torch.Tensor, kernel: int, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with a per-sample sigma (B,), reflect padding (as torchvision)."""
    if kernel % 2 != 1 or kernel < 1:
        raise ValueError(f"blur kernel must be a positive odd integer, got {kernel}")
    b, c, h, w = x.shape
    half = (kernel - 1) / 2.0
    pos = torch.linspace(-half, half, kernel, dtype=x.dtype, device=x.device)
    weights = torch.exp(-0.5 * (pos.view(1, -1) / sigma.to(x.dtype).view(-1, 1)) ** 2)
    weights = weights / weights.sum(1, keepdim=True)  # (B, k)
    weights = weights.repeat_interleave(c, 0)  # (B*C, k)
    pad = kernel // 2
    y = F.pad(x.reshape(1, b * c, h, w), (pad, pad, pad, pad), mode="reflect")
    y = F.conv2d(y, weights.view(b * c, 1, 1, kernel), groups=b * c)
    y = F.conv2d(y, weights.view(b * c, 1, kernel, 1), groups=b * c)
    return y.view(b, c, h, w)


# ---------------------------------------------------------------- the random recipe

class Augment:
    """A training-augmentation recipe applied per sample to a float (B,C,H,W) batch in [0, 1].

    recipe keys (all optional, 0 / None = off): hflip (probability), rotate_deg (uniform in
    [-d, d]), translate (fraction of width/height, uniform in [-t, t] per axis), zoom (scale uniform
    in [1-z, 1+z]), brightness / contrast / saturation (factor uniform in [max(0, 1-m), 1+m]), hue
    (shift uniform in [-h, h], h <= 0.5), blur {kernel, sigma: [lo, hi], p (default 1)}.
    """

    def __init__(self, recipe: dict | None = None):
        recipe = dict(recipe or {})
        unknown = set(recipe) - set(RECIPE_KEYS)
        if unknown:
            raise ValueError(f"unknown augmentation key(s) {sorted(unknown)}; known: {list(RECIPE_KEYS)}")
        self.hflip = float(recipe.get("hflip") or 0.0)
        self.rotate_deg = float(recipe.get("rotate_deg") or 0.0)
        self.translate = float(recipe.get("translate") or 0.0)
        self.zoom = float(recipe.get("zoom") or 0.0)
        self.brightness = float(recipe.get("brightness") or 0.0)
        self.contrast = float(recipe.get("contrast") or 0.0)
        self.saturation = float(recipe.get("saturation") or 0.0)
        self.hue = float(recipe.get("hue") or 0.0)
        if not 0.0 <= self.hue <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5], got {self.hue}")
        if not 0.0 <= self.hflip <= 1.0:
            raise ValueError(f"hflip is a probability, got {self.hflip}")
        blur = recipe.get("blur")
        self.blur = None
        if blur:
            sigma = blur.get("sigma", [0.1, 2.0])
            sigma = [float(sigma), float(sigma)] if isinstance(sigma, (int, float)) else [float(s) for s in sigma]
            self.blur = {"kernel": int(blur.get("kernel", 3)), "sigma": sigma, "p": float(blur.get("p", 1.0))}

    @property
    def enabled(self) -> bool:
        """Whether any op is on."""
        return any([self.hflip, self.rotate_deg, self.translate, self.zoom, self.brightness,
                    self.contrast, self.saturation, self.hue, self.blur])

    def __repr__(self) -> str:
        on = {k: getattr(self, k) for k in RECIPE_KEYS if getattr(self, k)}
        return f"Augment({on})"

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augment a float batch; random parameters come from `generator` (a CPU torch.Generator)."""
        if not self.enabled or x.shape[0] == 0:
            return x
        b, dev = x.shape[0], x.device

        def uniform(lo: float, hi: float, shape=(b,)) -> torch.Tensor:
            return (torch.rand(shape, generator=generator) * (hi - lo) + lo).to(dev, non_blocking=True)

        if self.hflip:
            x = hflip(x, (torch.rand(b, generator=generator) < self.hflip).to(dev, non_blocking=True))
        if self.rotate_deg or self.translate or self.zoom:
            angle = uniform(-self.rotate_deg, self.rotate_deg)
            h, w = x.shape[-2:]
            shift = uniform(-self.translate, self.translate, (b, 2)) * torch.tensor([w, h], device=dev, dtype=x.dtype)
            scale = uniform(1.0 - self.zoom, 1.0 + self.zoom)
            x = affine(x, angle, shift, scale)
        if self.brightness:
            x = adjust_brightness(x, uniform(max(0.0, 1 - self.brightness), 1 + self.brightness))
        if self.contrast:
            x = adjust_contrast(x, uniform(max(0.0, 1 - self.contrast), 1 + self.contrast))
        if self.saturation:
            x = adjust_saturation(x, uniform(max(0.0, 1 - self.saturation), 1 + self.saturation))
        if self.hue:
            x = adjust_hue(x, uniform(-self.hue, self.hue))
        if self.blur:
            lo, hi = self.blur["sigma"]
            sigma = uniform(lo, hi)
            blurred = gaussian_blur(x, self.blur["kernel"], sigma)
            if self.blur["p"] < 1.0:
                keep = (torch.rand(b, generator=generator) < self.blur["p"]).to(dev).view(-1, 1, 1, 1)
                blurred = torch.where(keep, blurred, x)
            x = blurred
        return x

