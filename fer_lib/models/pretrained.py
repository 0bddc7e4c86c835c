"""Loading pretrained weights: from the timm / Hugging Face hub (or its cache) or from a local file.

Local files may be .pth/.pt (torch.save of a state dict, possibly wrapped as {"model_state": ...},
{"state_dict": ...} or {"model": ...}) or .safetensors. Loading is strict on the backbone: every
key must match except the classifier (skipped when its shape differs, e.g. ImageNet's 1000
classes) and the parts a model declares as new (allowed missing) or removed (allowed unexpected).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.nn as nn

log = logging.getLogger(__name__)


class WeightsUnavailableError(FileNotFoundError):
    """Pretrained weights could neither be fetched from the hub nor read from a file."""


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict from .pth/.pt/.bin or .safetensors, unwrapping the usual containers."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsUnavailableError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        obj = load_file(str(path))
    else:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("model_state", "state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path}: not a state dict (expected a mapping of parameter names to tensors)")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def hub_state_dict(timm_name: str, file_hint: str, option_hint: str) -> dict[str, torch.Tensor]:
    """ImageNet weights of timm model `timm_name` via the hub (or its local cache).

    On failure raises WeightsUnavailableError naming the file to supply and the option to pass.
    """
    import timm

    def unavailable(why: str) -> WeightsUnavailableError:
        return WeightsUnavailableError(
            f"could not fetch ImageNet weights {timm_name!r} from the Hugging Face hub or a local cache ({why}). "
            f"Download {file_hint} on a machine with internet access and pass it as {option_hint}.")

    kwargs = {}
    if not _hub_reachable():  # offline: use a cached file if there is one, without the hub's slow retries
        cached = _cached_weights(timm_name)
        if cached is None:
            raise unavailable("huggingface.co is unreachable and nothing is cached")
        kwargs["pretrained_cfg_overlay"] = dict(file=cached)
    try:
        return timm.create_model(timm_name, pretrained=True, **kwargs).state_dict()
    except Exception as err:  # network, missing cache, hub errors all end the same way
        raise unavailable(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from err


def _hub_reachable(timeout: float = 3.0) -> bool:
    import socket

    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _cached_weights(timm_name: str) -> str | None:
    """A cached copy of timm's weights for `timm_name` (Hugging Face cache or torch hub dir), if any."""
    import timm
    from huggingface_hub import try_to_load_from_cache

    cfg = timm.models.get_pretrained_cfg(timm_name)
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        for filename in ("model.safetensors", "pytorch_model.bin"):
            found = try_to_load_from_cache(cfg.hf_hub_id, filename)
            if isinstance(found, str):
                return found
    if cfg.url:
        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(cfg.url)
        if path.is_file():
            return str(path)
    return None


def _starts(key: str, prefixes: Iterable[str]) -> bool:
    return any(key.startswith(p) for p in prefixes)


def load_weights(
    module: nn.Module,
    state_dict: dict[str, torch.Tensor],
    *,
    source: str,
    head_prefixes: tuple[str, ...] = (),
    allow_missing: tuple[str, ...] = (),
    allow_unexpected: tuple[str, ...] = (),
    filter_fn: Callable[[dict, nn.Module], dict] | None = None,
) -> dict:
    """Load `state_dict` into `module`; returns a report (loaded / missing / unexpected / skipped keys).

    Keys under `head_prefixes` are skipped when their shape differs from the module's; 1x1-conv and
    linear weights are reshaped into each other (timm's conv_mlp layout vs channels-last Linear).
    Any other missing, unexpected or mis-shaped key raises ValueError naming `source`.
    """
    if filter_fn is not None:
        state_dict = filter_fn(state_dict, module)
    own = module.state_dict()
    to_load, head_skipped, reshaped, bad_shape = {}, [], [], []
    for key, value in state_dict.items():
        if key not in own:
            to_load[key] = value  # reported as unexpected below
            continue
        target = own[key].shape
        if value.shape != target:
            if _starts(key, head_prefixes):
                head_skipped.append(key)
                continue
            if value.numel() == own[key].numel() and value.squeeze().shape == own[key].squeeze().shape:
                value = value.reshape(target)
                reshaped.append(key)
            else:
                bad_shape.append(f"{key}: file {tuple(value.shape)} vs model {tuple(target)}")
                continue
        to_load[key] = value
    if bad_shape:
        raise ValueError(f"{source}: {len(bad_shape)} tensor(s) do not fit the model: " + "; ".join(bad_shape[:5]))
    result = module.load_state_dict(to_load, strict=False)
    missing = [k for k in result.missing_keys if not _starts(k, head_prefixes + allow_missing)]
    unexpected = [k for k in result.unexpected_keys if not _starts(k, head_prefixes + allow_unexpected)]
    if missing or unexpected:
        raise ValueError(
            f"{source} does not match the model: {len(missing)} missing key(s) {missing[:5]}, "
            f"{len(unexpected)} unexpected key(s) {unexpected[:5]}. Is it a checkpoint of this architecture?"
        )
    report = dict(
        source=source,
        loaded=len(to_load) - len(result.unexpected_keys),
        missing=list(result.missing_keys),
        unexpected=list(result.unexpected_keys),
        head_skipped=head_skipped,
        reshaped=reshaped,
    )
    log.info("loaded %d tensors from %s (missing %d, ignored %d, head skipped %d)", report["loaded"], source,
             len(report["missing"]), len(report["unexpected"]), len(head_skipped))
    return report


def load_branch(
    module: nn.Module,
    weights: bool | str | os.PathLike,
    *,
    timm_name: str,
    file_hint: str,
    option_hint: str,
    **load_kwargs,
) -> dict | None:
    """Load `weights` (True or "hub": ImageNet via timm; a path: that file; False/None: nothing)."""
    if weights is None or weights is False:
        return None
    if weights is True or weights == "hub":
        state = hub_state_dict(timm_name, file_hint, option_hint)
        source = f"hub:timm/{timm_name}"
    else:
        state = read_state_dict(weights)
        source = str(Path(weights).expanduser())
    return load_weights(module, state, source=source, **load_kwargs)


def describe_reports(reports: list[dict]) -> str:
    """One line for run manifests: where the weights came from, or that there were none."""
    reports = [r for r in reports if r]
    if not reports:
        return "none: trained from scratch"
    return "; ".join(f"{r.get('branch', 'model')}: {r['source']}" for r in reports)
