"""P2 LC2FER: ConvNeXt V2 networks C1-C8 of P2 Table 2.1, built from timm's ConvNeXtBlock.

    x (B,3,S,S)
    stem        conv k0 x k0 / s0 (3 -> D1) + LayerNorm2d
    stage i     downsample (i > 1): LayerNorm2d + conv ki x ki / si (D(i-1) -> Di)
                Bi x ConvNeXt V2 block: dwconv 7x7 -> LN -> Linear 4D -> GELU -> GRN -> Linear D
                                        (+ drop-path) + residual; no layer scale (ConvNeXt V2)
    head        global average pool -> LayerNorm -> dropout -> Linear   (timm NormMlpClassifierHead)

Padding of the stem / downsampling convs: (k - s) // 2, i.e. none when k == s (C1-C3 as ConvNeXt)
and 1 for the overlapping (4,2) stem of C4-C8, so 100 px -> 50 px. The (3,3) downsampling has no
padding and drops the last 1-2 rows/columns when the map is not a multiple of 3 (25 -> 8, 50 -> 16).
Spatial sizes at 100 px (RAF-DB aligned, the default input): C1 25-12-6-3, C2/C3 25-8-4,
C4-C8 50-16-8.
C1 is timm's convnextv2_atto (3,389,647 parameters at 7 classes; module names match timm's, so its
ImageNet weights load, 1x1-conv weights reshaped to Linear). drop_path_rate: P2 mentions
drop-path without a rate; we use 0.1 (linearly increasing over the blocks, as ConvNeXt), and no
head dropout (drop_rate=0.0); both are options.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from timm.layers import LayerNorm2d, NormMlpClassifierHead, trunc_normal_
from timm.models.convnext import ConvNeXtBlock

from fer_lib.models.pretrained import describe_reports, load_branch
from fer_lib.models.registry import register_model

# P2 Table 2.1: S = (kernel, stride) of the stem and of each later stage's downsampling conv.
LC2FER_CONFIGS: dict[str, dict] = {
    "c1": dict(convs=((4, 4), (2, 2), (2, 2), (2, 2)), depths=(2, 2, 6, 2), dims=(40, 80, 160, 320)),
    "c2": dict(convs=((4, 4), (3, 3), (2, 2)), depths=(2, 4, 2), dims=(64, 128, 256)),
    "c3": dict(convs=((4, 4), (3, 3), (2, 2)), depths=(2, 4, 2), dims=(128, 256, 512)),
    "c4": dict(convs=((4, 2), (3, 3), (2, 2)), depths=(2, 4, 2), dims=(64, 128, 256)),
    "c5": dict(convs=((4, 2), (3, 3), (2, 2)), depths=(2, 2, 2), dims=(64, 128, 256)),
    "c6": dict(convs=((4, 2), (3, 3), (2, 2)), depths=(1, 1, 1), dims=(64, 128, 256)),
    "c7": dict(convs=((4, 2), (3, 3), (2, 2)), depths=(1, 1, 1), dims=(128, 256, 512)),
    "c8": dict(convs=((4, 2), (3, 3), (2, 2)), depths=(1, 1, 1), dims=(40, 80, 160)),
}


def _conv(cin: int, cout: int, kernel: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - stride) // 2)


class Stage(nn.Module):
    """One stage: optional downsampling, then ConvNeXt V2 blocks (timm's module names)."""

    def __init__(self, downsample: nn.Module, blocks: nn.Sequential):
        super().__init__()
        self.downsample, self.blocks = downsample, blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class LC2FER(nn.Module):
    """ConvNeXt V2 with per-stage (kernel, stride) for stem and downsampling (P2 Table 2.1)."""

    def __init__(self, convs, depths, dims, num_classes: int = 7, drop_path_rate: float = 0.1,
                 drop_rate: float = 0.0):
        super().__init__()
        (k0, s0), dp = convs[0], torch.linspace(0, drop_path_rate, sum(depths)).split(list(depths))
        self.stem = nn.Sequential(_conv(3, dims[0], k0, s0), LayerNorm2d(dims[0]))  # (B,D1,S/s0,S/s0)
        stages = []
        for i, ((k, s), depth, dim) in enumerate(zip(convs, depths, dims)):
            down = nn.Identity() if i == 0 else nn.Sequential(LayerNorm2d(dims[i - 1]), _conv(dims[i - 1], dim, k, s))
            blocks = nn.Sequential(*[ConvNeXtBlock(dim, use_grn=True, conv_mlp=False, ls_init_value=None,
                                                   drop_path=float(r)) for r in dp[i]])
            stages.append(Stage(down, blocks))                                      # (B,Di,.,.)
        self.stages = nn.Sequential(*stages)
        self.num_features = dims[-1]
        self.head = NormMlpClassifierHead(dims[-1], num_classes, drop_rate=drop_rate)  # GAP -> LN -> fc
        self.apply(self._init_weights)
        self.gradcam_layers = [self.stages[-1]]  # (B,D_last,h,w) NCHW
        self.gradcam_reshape = None

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.Linear)):  # as timm ConvNeXt: trunc normal std .02, zero bias
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))                          # (B,D_last,h,w)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)                # (B,D_last) or (B,num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _register(cfg: str) -> None:
    c = LC2FER_CONFIGS[cfg]
    desc = (f"P2 {cfg.upper()}: S={list(c['convs'])} B={list(c['depths'])} D={list(c['dims'])}"
            + (" (= ConvNeXt V2-Atto)" if cfg == "c1" else ""))

    @register_model(f"lc2fer_{cfg}", paper="P2", input_size=100, description=desc,
                    options=dict(drop_path_rate=0.1, drop_rate=0.0))
    def build(num_classes: int, pretrained, drop_path_rate: float, drop_rate: float) -> nn.Module:
        model = LC2FER(c["convs"], c["depths"], c["dims"], num_classes, drop_path_rate, drop_rate)
        if pretrained is True and cfg != "c1":
            raise ValueError(f"lc2fer_{cfg}: no ImageNet weights exist for this configuration (only C1 = "
                             "convnextv2_atto has them); pass pretrained=False or a local state-dict file")
        report = load_branch(model, pretrained, timm_name="convnextv2_atto.fcmae_ft_in1k",
                             file_hint="'model.safetensors' of https://huggingface.co/timm/convnextv2_atto.fcmae_ft_in1k",
                             option_hint="pretrained='/path/to/file'", head_prefixes=("head.fc.",))
        model.pretrained_report = [report] if report else []
        model.pretrained_source = describe_reports([report])
        return model


for _cfg in LC2FER_CONFIGS:
    _register(_cfg)
