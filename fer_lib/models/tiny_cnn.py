"""A small 3-conv CNN for fast tests and smoke runs (not from any paper)."""

from __future__ import annotations

import torch
import torch.nn as nn

from fer_lib.models.pretrained import describe_reports, load_branch
from fer_lib.models.registry import register_model


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TinyCNN(nn.Module):
    """conv-BN-ReLU x3 (widths w, 2w, 4w; 2x2 max-pool after the first two) -> GAP -> dropout -> Linear."""

    def __init__(self, num_classes: int = 7, width: int = 16, drop_rate: float = 0.0):
        super().__init__()
        self.features = nn.Sequential(
            _block(3, width), nn.MaxPool2d(2),                 # (B,w,S/2,S/2)
            _block(width, 2 * width), nn.MaxPool2d(2),         # (B,2w,S/4,S/4)
            _block(2 * width, 4 * width),                      # (B,4w,S/4,S/4)
        )
        self.num_features = 4 * width
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(self.num_features, num_classes)
        self.gradcam_layers = [self.features[-1]]
        self.gradcam_reshape = None

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.mean((2, 3))                                     # (B,4w)
        return x if pre_logits else self.fc(self.drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model("tiny_cnn", paper="none (tests, smoke runs)", input_size=48,
                description="3 conv-BN-ReLU layers (16/32/64 channels), GAP, Linear",
                options=dict(width=16, drop_rate=0.0))
def tiny_cnn(num_classes: int, pretrained, width: int, drop_rate: float) -> nn.Module:
    if pretrained is True:
        raise ValueError("tiny_cnn: there are no ImageNet weights; pass pretrained=False or a local state-dict file")
    model = TinyCNN(num_classes, width, drop_rate)
    report = load_branch(model, pretrained, timm_name="", file_hint="", option_hint="", head_prefixes=("fc.",))
    model.pretrained_report = [report] if report else []
    model.pretrained_source = describe_reports([report])
    return model
