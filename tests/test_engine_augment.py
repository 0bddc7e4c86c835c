"""Batched augmentation: shapes, dtypes, seeding, and each op does what it says."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from fer_lib.augment import (Augment, adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation, affine,
                             gaussian_blur, preprocess)
from fer_lib.engine.runtime import Runtime, prepare_batch

FULL = {"hflip": 0.5, "rotate_deg": 10, "translate": 0.1, "zoom": 0.1, "brightness": 0.2, "contrast": 0.2,
        "saturation": 0.2, "hue": 0.05, "blur": {"kernel": 3, "sigma": [0.1, 1.0]}}


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_dtypes_and_range(channels):
    x = torch.rand(6, channels, 20, 20)
    y = Augment(FULL)(x, _gen(0))
    assert y.shape == x.shape and y.dtype == torch.float32
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_seeded_and_deterministic():
    x = torch.rand(8, 3, 16, 16)
    aug = Augment(FULL)
    a, b, c = aug(x, _gen(1)), aug(x, _gen(1)), aug(x, _gen(2))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert torch.equal(Augment({})(x, _gen(0)), x) and not Augment({}).enabled


def test_per_sample_parameters_differ():
    x = torch.rand(1, 3, 16, 16).repeat(8, 1, 1, 1)
    y = Augment({"rotate_deg": 30})(x, _gen(0))
    assert len({round(float(v), 5) for v in y.sum((1, 2, 3))}) == 8


def test_hflip_p1_is_flip_and_p0_is_identity():
    x = torch.rand(4, 3, 8, 8)
    assert torch.equal(Augment({"hflip": 1.0})(x, _gen(0)), torch.flip(x, dims=[-1]))
    assert torch.equal(Augment({"hflip": 0.0})(x, _gen(0)), x)


def test_affine_rotation_translation_zoom():
    x = torch.rand(2, 1, 9, 9)
    ones, zeros = torch.ones(2), torch.zeros(2)
    assert torch.allclose(affine(x, zeros, torch.zeros(2, 2), ones), x, atol=1e-5)
    assert torch.allclose(affine(x, torch.full((2,), 90.0), torch.zeros(2, 2), ones), torch.rot90(x, 1, (-2, -1)),
                          atol=1e-5)  # counter-clockwise, as torchvision
    shifted = affine(x, zeros, torch.tensor([[2.0, 0.0], [2.0, 0.0]]), ones)
    assert torch.allclose(shifted[..., 2:], x[..., :-2], atol=1e-5) and float(shifted[..., :2].abs().max()) == 0.0
    # torchvision's affine() turns clockwise (rotate() counter-clockwise), hence angle=-25 there
    tv = TF.affine(x[0], angle=-25.0, translate=[0, 0], scale=1.3, shear=[0.0, 0.0],
                   interpolation=TF.InterpolationMode.BILINEAR)
    ours = affine(x, torch.full((2,), 25.0), torch.zeros(2, 2), torch.full((2,), 1.3))[0]
    assert torch.allclose(ours, tv, atol=1e-5)
    rotated = affine(x, torch.full((2,), 25.0), torch.zeros(2, 2), torch.ones(2))[0]
    assert torch.allclose(rotated, TF.rotate(x[0], 25.0, interpolation=TF.InterpolationMode.BILINEAR), atol=1e-5)


def test_colour_ops_match_torchvision():
    x = torch.rand(2, 3, 10, 10)
    f = torch.tensor([0.6, 1.4])
    for ours, theirs in ((adjust_brightness, TF.adjust_brightness), (adjust_contrast, TF.adjust_contrast),
                         (adjust_saturation, TF.adjust_saturation)):
        out = ours(x.clone(), f)
        for i in range(2):
            assert torch.allclose(out[i], theirs(x[i], float(f[i])), atol=1e-5), ours.__name__
    out = adjust_hue(x, torch.tensor([0.1, -0.2]))
    assert torch.allclose(out[0], TF.adjust_hue(x[0], 0.1), atol=1e-5)
    assert torch.allclose(out[1], TF.adjust_hue(x[1], -0.2), atol=1e-5)
    gray = torch.rand(2, 1, 6, 6)
    assert torch.equal(adjust_hue(gray, torch.tensor([0.3, 0.3])), gray)  # no hue on grayscale


def test_blur_matches_torchvision_and_keeps_constants():
    x = torch.rand(2, 3, 12, 12)
    out = gaussian_blur(x, 3, torch.tensor([0.5, 1.0]))
    assert torch.allclose(out[0], TF.gaussian_blur(x[0], [3, 3], [0.5, 0.5]), atol=1e-5)
    assert torch.allclose(out[1], TF.gaussian_blur(x[1], [3, 3], [1.0, 1.0]), atol=1e-5)
    flat = torch.full((1, 1, 8, 8), 0.4)
    assert torch.allclose(gaussian_blur(flat, 5, torch.tensor([2.0])), flat, atol=1e-6)


def test_preprocess_layouts_and_normalisation():
    gray = torch.randint(0, 256, (3, 48, 48), dtype=torch.uint8)
    out = preprocess(gray, 64, [0.5] * 3, [0.25] * 3)
    assert out.shape == (3, 3, 64, 64) and out.dtype == torch.float32
    assert torch.equal(out[:, 0], out[:, 1])  # grayscale replicated
    same = preprocess(gray, 48, [0.0] * 3, [1.0] * 3)
    assert torch.allclose(same[:, 0], gray.float() / 255)
    rgb = torch.randint(0, 256, (2, 30, 30, 3), dtype=torch.uint8)
    assert torch.allclose(preprocess(rgb, 30, [0.0] * 3, [1.0] * 3), rgb.permute(0, 3, 1, 2).float() / 255)
    with pytest.raises(TypeError):
        preprocess(gray.float(), 48, [0.0] * 3, [1.0] * 3)


def test_training_batch_keeps_label_pairing():
    """Each augmented sample is derived from its own image (label pairing): a per-sample op on a batch equals
    the op on that sample alone."""
    imgs = torch.randint(0, 256, (5, 1, 24, 24), dtype=torch.uint8)
    rt = Runtime(device=torch.device("cpu"), input_size=24, mean=[0.0] * 3, std=[1.0] * 3)
    flipped = prepare_batch(imgs, rt, _gen(0), Augment({"hflip": 1.0}))
    for i in range(5):
        assert torch.allclose(flipped[i, 0], torch.flip(imgs[i, 0].float() / 255, dims=[-1]))
    mask = torch.tensor([True, False, True, False, False])
    out = prepare_batch(imgs, rt, _gen(0), None, mask, Augment({"hflip": 1.0}))
    plain = prepare_batch(imgs, rt)
    assert torch.equal(out[~mask], plain[~mask]) and torch.equal(out[mask], torch.flip(plain[mask], dims=[-1]))
