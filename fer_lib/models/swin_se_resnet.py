"""P1 Swin-SE-ResNet: a Swin-T branch (SE, split convolution, mean pooling) and a ResNet-50 branch, fused.

    x (B,3,224,224)
    ├─ swin (timm Swin-T, no head) -> (B,7,7,768) NHWC -> (B,768,7,7)
    │    se          GAP -> FC 768/r -> ReLU -> FC 768 -> sigmoid -> rescale    (r = 16, P1)
    │    split_conv  768 channels in `split_groups` groups, one k x k conv each, concatenated
    │    pool        k x k mean pooling (stride k), flattened          -> (B, 768 * (7 // k)^2)
    ├─ resnet (timm ResNet-50, no head) -> global average pool           -> (B,2048)
    └─ concat -> dropout -> fc (one Linear)                              -> (B,num_classes)

P1 leaves these unstated; the defaults here are our choices and stay options:
split_groups=4, split_kernel=3 with 'same' padding (a grouped conv is exactly "split the channels,
one conv per group, concatenate"), no activation after it (P1 names none), pool_kernel=7 (7x7
mean pooling of the 7x7 map = global mean, so the Swin vector is 768-d; a smaller k keeps a
(7//k)^2 grid and flattens it). Ablations: use_se, use_split_conv, use_resnet_branch.
Parameters at 7 classes with the defaults: 52,449,521.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from timm.layers import SEModule
from timm.models.swin_transformer import checkpoint_filter_fn as swin_filter

from fer_lib.models.baselines import (RESNET50_FILE, RESNET50_TIMM, SWIN_T_FILE, SWIN_T_TIMM, build_resnet50,
                                      build_swin_t)
from fer_lib.models.pretrained import describe_reports, load_branch, read_state_dict, load_weights
from fer_lib.models.registry import register_model

SWIN_DIM, SWIN_GRID = 768, 7


class SwinSEResNet(nn.Module):
    """Two-branch hybrid of P1 (see the module docstring for the layout and the chosen defaults)."""

    def __init__(self, num_classes: int = 7, use_se: bool = True, se_reduction: int = 16,
                 use_split_conv: bool = True, split_groups: int = 4, split_kernel: int = 3, pool_kernel: int = 7,
                 use_resnet_branch: bool = True, drop_path_rate: float = 0.1, drop_rate: float = 0.0):
        super().__init__()
        if SWIN_DIM % split_groups:
            raise ValueError(f"swin_se_resnet: split_groups={split_groups} must divide {SWIN_DIM} channels")
        self.swin = build_swin_t(0, drop_path_rate)                     # -> (B,7,7,768) NHWC
        self.se = (SEModule(SWIN_DIM, rd_channels=SWIN_DIM // se_reduction) if use_se
                   else nn.Identity())                                  # (B,768,7,7), channels rescaled
        self.split_conv = (nn.Conv2d(SWIN_DIM, SWIN_DIM, split_kernel, padding=split_kernel // 2,
                                     groups=split_groups) if use_split_conv else nn.Identity())
        self.pool = nn.Sequential(nn.AvgPool2d(pool_kernel), nn.Flatten(1))  # (B,768*(7//k)^2)
        self.resnet = build_resnet50(0) if use_resnet_branch else None      # -> (B,2048) pooled
        self.num_features = SWIN_DIM * (SWIN_GRID // pool_kernel) ** 2 + (2048 if use_resnet_branch else 0)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(self.num_features, num_classes)
        self.gradcam_layers = [self.split_conv] + ([self.resnet.layer4] if self.resnet is not None else [])
        self.gradcam_reshape = None  # both targets are (B,C,7,7) NCHW at 224 px

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Fused feature vector (B, num_features): pooled Swin-SE-split map ++ pooled ResNet-50 map."""
        g = self.swin.forward_features(x).permute(0, 3, 1, 2)          # (B,768,7,7)
        g = self.pool(self.split_conv(self.se(g)))                      # (B,768*(7//k)^2)
        if self.resnet is None:
            return g
        local = self.resnet.forward_head(self.resnet.forward_features(x), pre_logits=True)  # (B,2048)
        return torch.cat([g, local], dim=1)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """pre_logits: the fused vector (B,D); else logits (B,num_classes)."""
        return x if pre_logits else self.fc(self.drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model(
    "swin_se_resnet", paper="P1", input_size=224,
    description="Swin-T -> SE(r=16) -> split conv (4 groups, 3x3) -> 7x7 mean pool, ++ ResNet-50 GAP -> Linear",
    options=dict(use_se=True, se_reduction=16, use_split_conv=True, split_groups=4, split_kernel=3, pool_kernel=7,
                 use_resnet_branch=True, swin_weights=None, resnet_weights=None, drop_path_rate=0.1, drop_rate=0.0),
    choices=dict(split_kernel=(1, 3, 5, 7), pool_kernel=(1, 2, 3, 4, 5, 6, 7)),
    option_types=dict(swin_weights=(str, type(None)), resnet_weights=(str, type(None))),
    weight_options=("swin_weights", "resnet_weights"),
)
def swin_se_resnet(num_classes: int, pretrained, swin_weights, resnet_weights, **options) -> nn.Module:
    """pretrained=True: ImageNet weights in both branches (hub); a path: a whole Swin-SE-ResNet state dict.
    swin_weights / resnet_weights: "hub" or a file for that branch alone (they win over pretrained=True)."""
    model = SwinSEResNet(num_classes, **options)
    reports = []
    if pretrained not in (True, False):
        reports.append(load_weights(model, read_state_dict(pretrained), source=str(pretrained),
                                    head_prefixes=("fc.",)))
    swin_weights = swin_weights or (pretrained is True and "hub") or None
    resnet_weights = resnet_weights or (pretrained is True and "hub") or None
    r = load_branch(model.swin, swin_weights, timm_name=SWIN_T_TIMM, file_hint=SWIN_T_FILE,
                    option_hint="swin_weights='/path/to/file'", head_prefixes=("head.",), filter_fn=swin_filter)
    reports.append(r and {**r, "branch": "swin"})
    if model.resnet is not None:
        r = load_branch(model.resnet, resnet_weights, timm_name=RESNET50_TIMM, file_hint=RESNET50_FILE,
                        option_hint="resnet_weights='/path/to/file'", head_prefixes=("fc.",))
        reports.append(r and {**r, "branch": "resnet"})
    model.pretrained_report = [r for r in reports if r]
    model.pretrained_source = describe_reports(reports)
    return model
