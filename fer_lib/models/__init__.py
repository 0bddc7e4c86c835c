"""Model registry of the study (timm style): `create_model(name, num_classes, pretrained, **options)`.

One file per paper's model family: baselines (resnet50, swin_t), swin_se_resnet (P1),
lc2fer (P2, C1-C8), swin_spst_ema (P4), tiny_cnn (tests). Every model has forward ->
(B,num_classes), forward_features, forward_head(x, pre_logits=True) -> (B,D), gradcam_layers,
gradcam_reshape, pretrained_source, model_name and model_options.
"""

from fer_lib.models.registry import ModelSpec, create_model, list_models, model_spec, register_model, resolve_options
from fer_lib.models import baselines, lc2fer, swin_se_resnet, swin_spst_ema, tiny_cnn  # noqa: F401  (registration)
from fer_lib.models.layers import count_params, tokens_to_nchw
from fer_lib.models.pretrained import WeightsUnavailableError

__all__ = ["ModelSpec", "create_model", "list_models", "model_spec", "register_model", "resolve_options",
           "count_params", "tokens_to_nchw", "WeightsUnavailableError"]
