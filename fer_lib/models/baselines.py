"""Plain timm backbones used as baselines: ResNet-50 (P3; P1 baseline) and Swin-T (P1, P4 baseline).

The timm models are returned as they are (their state-dict keys stay timm's/torchvision's, so
ImageNet files load unchanged), with the study's attributes added: `gradcam_layers`,
`gradcam_reshape`, `pretrained_source`.
"""

from __future__ import annotations

import timm
import torch.nn as nn
from timm.models.swin_transformer import checkpoint_filter_fn as swin_filter

from fer_lib.models.layers import tokens_to_nchw
from fer_lib.models.pretrained import describe_reports, load_branch
from fer_lib.models.registry import register_model

SWIN_T_TIMM = "swin_tiny_patch4_window7_224.ms_in1k"
SWIN_T_FILE = ("'model.safetensors' of https://huggingface.co/timm/swin_tiny_patch4_window7_224.ms_in1k "
               "(or Microsoft's swin_tiny_patch4_window7_224.pth)")
RESNET50_TIMM = "resnet50.tv_in1k"
RESNET50_FILE = ("torchvision's resnet50-0676ba61.pth (IMAGENET1K_V1; any torchvision/timm ResNet-50 state dict "
                 "such as resnet50-11ad3fa6.pth also fits)")


def build_swin_t(num_classes: int, drop_path_rate: float = 0.1, drop_rate: float = 0.0) -> nn.Module:
    """timm Swin-T (patch 4, window 7, 224 px); forward_features -> (B,7,7,768) NHWC."""
    return timm.create_model("swin_tiny_patch4_window7_224", num_classes=num_classes,
                             drop_path_rate=drop_path_rate, drop_rate=drop_rate)


def build_resnet50(num_classes: int, drop_path_rate: float = 0.0, drop_rate: float = 0.0) -> nn.Module:
    """timm ResNet-50 (torchvision layout and key names); forward_features -> (B,2048,H/32,W/32)."""
    return timm.create_model("resnet50", num_classes=num_classes, drop_path_rate=drop_path_rate,
                             drop_rate=drop_rate)


@register_model(
    "swin_t", paper="P1 baseline; P4 original Swin-T", input_size=224,
    description="timm swin_tiny_patch4_window7_224 with a new classifier (27,524,737 params at 7 classes)",
    options=dict(drop_path_rate=0.1, drop_rate=0.0),
)
def swin_t(num_classes: int, pretrained, drop_path_rate: float, drop_rate: float) -> nn.Module:
    model = build_swin_t(num_classes, drop_path_rate, drop_rate)
    report = load_branch(model, pretrained, timm_name=SWIN_T_TIMM, file_hint=SWIN_T_FILE,
                         option_hint="pretrained='/path/to/file'", head_prefixes=("head.",), filter_fn=swin_filter)
    model.gradcam_layers = [model.norm]  # (B,7,7,768) NHWC: the map the head pools
    model.gradcam_reshape = tokens_to_nchw
    model.pretrained_report = [report] if report else []
    model.pretrained_source = describe_reports([report])
    return model


@register_model(
    "resnet50", paper="P3 (also P1 baseline)", input_size=48,
    description="ResNet-50 (3,4,6,3 bottlenecks) with a new classifier; P3 feeds 48 px FER2013 (size not stated), "
                "P1 uses 224 px",
    options=dict(drop_path_rate=0.0, drop_rate=0.0),
)
def resnet50(num_classes: int, pretrained, drop_path_rate: float, drop_rate: float) -> nn.Module:
    model = build_resnet50(num_classes, drop_path_rate, drop_rate)
    report = load_branch(model, pretrained, timm_name=RESNET50_TIMM, file_hint=RESNET50_FILE,
                         option_hint="pretrained='/path/to/file'", head_prefixes=("fc.",))
    model.gradcam_layers = [model.layer4]  # (B,2048,H/32,W/32)
    model.gradcam_reshape = None
    model.pretrained_report = [report] if report else []
    model.pretrained_source = describe_reports([report])
    return model
