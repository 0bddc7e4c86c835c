"""Feature extraction, Grad-CAM on conv and token-layout models, and heat-map entropy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from fer_lib.engine.rebuild import TrainedModel
from fer_lib.study.analysis import extract_features, gradcam_maps, heatmap_entropy, max_entropy, tsne_embedding


class TinyConv(nn.Module):
    def __init__(self, num_classes: int = 3):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(8, num_classes)
        self.gradcam_layers = [self.body[2]]
        self.gradcam_reshape = None

    def forward_features(self, x):
        return self.body(x)

    def forward_head(self, x, pre_logits: bool = False):
        x = x.mean(dim=(2, 3))
        return x if pre_logits else self.head(x)

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


def test_entropy_bounds_and_concentration():
    uniform = np.ones((1, 16, 16))
    peaked = np.zeros((1, 16, 16))
    peaked[0, 3, 4] = 1.0
    half = np.zeros((1, 16, 16))
    half[0, :8] = 1.0
    values = heatmap_entropy(np.concatenate([uniform, peaked, half]))
    assert values[0] == pytest.approx(max_entropy(16, 16)) == pytest.approx(math.log(256))
    assert values[1] == pytest.approx(0.0, abs=1e-9)
    assert values[2] == pytest.approx(math.log(128))
    assert max_entropy(224, 224) == pytest.approx(10.823, abs=1e-3)  # the bound P4 Table 3 sits near


def test_features_and_tsne_shapes():
    torch.manual_seed(0)
    model = TinyConv()
    images = np.random.default_rng(0).integers(0, 255, (20, 12, 12), dtype=np.uint8)
    trained = TrainedModel(model=model, class_names=[str(k) for k in range(3)], input_size=12, mean=[0.0] * 3,
                           std=[1.0] * 3, manifest={})
    feats = extract_features(trained, images, batch_size=7)
    assert feats.shape == (20, 8)
    assert tsne_embedding(feats, seed=0).shape == (20, 2)


def test_gradcam_localises_the_evidence():
    # Identity-like convs and a class-1 logit that grows with activation: the CAM must sit where
    # the input is bright (Grad-CAM weights channels by mean gradient, then follows activations).
    model = TinyConv(num_classes=2)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.body[0].weight[:, :, 1, 1] = 1.0
        model.body[2].weight[:, :, 1, 1] = torch.eye(8)
        model.head.weight[1] = 1.0
    images = torch.zeros(2, 3, 16, 16)
    images[0, :, :8, :8] = 1.0
    images[1, :, 8:, 8:] = 1.0
    cam = gradcam_maps(model, images, targets=[1, 1])
    assert cam.shape == (2, 16, 16)
    assert cam[0, :8, :8].mean() > 5 * cam[0, 8:, 8:].mean()
    assert cam[1, 8:, 8:].mean() > 5 * cam[1, :8, :8].mean()
