"""Model registry: `register_model` records a builder with its spec, `create_model` validates and builds.

Style after timm: one builder per registered name, options as data (defaults in the spec), and
clear errors for unknown names or options. Builders receive `num_classes`, `pretrained` and the
fully merged options; the registry attaches `model_name` and `model_options` to what they return.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn


@dataclass(frozen=True)
class ModelSpec:
    """What a registered model is: its paper, default input size and options (defaults)."""

    name: str
    paper: str
    input_size: int
    description: str
    options: dict[str, Any] = field(default_factory=dict)
    choices: dict[str, tuple] = field(default_factory=dict)
    option_types: dict[str, tuple[type, ...]] = field(default_factory=dict)
    weight_options: tuple[str, ...] = ()  # options naming weight sources, not architecture


_REGISTRY: dict[str, tuple[ModelSpec, Callable[..., nn.Module]]] = {}


def register_model(
    name: str,
    *,
    paper: str,
    input_size: int,
    description: str,
    options: dict[str, Any] | None = None,
    choices: dict[str, tuple] | None = None,
    option_types: dict[str, tuple[type, ...]] | None = None,
    weight_options: tuple[str, ...] = (),
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering `builder(num_classes, pretrained, **options) -> nn.Module` under `name`.

    `options` maps each option to its default; its type is the default's type unless `option_types`
    says otherwise (needed when the default is None); `choices` restricts an option to listed values.
    `weight_options` name options that only say where initial weights come from; they are reset to
    their defaults in `model.model_options`, so a checkpoint rebuilds the architecture without them.
    """

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        spec = ModelSpec(name, paper, input_size, description, dict(options or {}),
                         dict(choices or {}), dict(option_types or {}), tuple(weight_options))
        _REGISTRY[name] = (spec, builder)
        return builder

    return decorator


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def model_spec(name: str) -> ModelSpec:
    """The spec of a registered model; ValueError naming the valid ones otherwise."""
    try:
        return _REGISTRY[name][0]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(list_models())}") from None


def _check_option(spec: ModelSpec, key: str, value: Any) -> None:
    default = spec.options[key]
    if key in spec.choices:
        allowed = spec.choices[key]
        if not any(value == c and type(value) is type(c) for c in allowed):
            raise ValueError(f"{spec.name}: option {key}={value!r} is not one of {allowed}")
        return
    types = spec.option_types.get(key)
    if types is None:
        if isinstance(default, bool):
            types = (bool,)
        elif isinstance(default, int):
            types = (int,)
        elif isinstance(default, float):
            types = (float, int)
        elif default is None:
            types = (type(None),)
        else:
            types = (type(default),)
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        names = " or ".join(t.__name__ for t in types)
        raise ValueError(f"{spec.name}: option {key}={value!r} must be {names}")


def resolve_options(name: str, **options: Any) -> dict[str, Any]:
    """Defaults of `name` updated with `options`, each checked (unknown or ill-typed: ValueError)."""
    spec = model_spec(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        valid = ", ".join(f"{k}={v!r}" for k, v in spec.options.items()) or "(none)"
        raise ValueError(f"{name}: unknown option(s) {', '.join(unknown)}; valid options (defaults): {valid}")
    merged = {**spec.options, **options}
    for key, value in options.items():
        _check_option(spec, key, value)
    return merged


def create_model(name: str, num_classes: int = 7, pretrained: bool | str | os.PathLike = False,
                 **options: Any) -> nn.Module:
    """Build a registered model.

    pretrained: False (random init), True (ImageNet weights through timm; needs the hub or its
    cache), or a path to a local state dict (.pth/.pt/.safetensors) whose classifier is skipped
    when its shape differs. The result has `model_name` and `model_options` (the architecture's
    options, weight-source options reset to their defaults) attributes.
    """
    spec = model_spec(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{name}: num_classes must be a positive int, got {num_classes!r}")
    if not isinstance(pretrained, (bool, str, os.PathLike)):
        raise ValueError(f"{name}: pretrained must be a bool or a file path, got {pretrained!r}")
    merged = resolve_options(name, **options)
    builder = _REGISTRY[name][1]
    model = builder(num_classes=num_classes, pretrained=pretrained, **merged)
    model.model_name = spec.name
    model.model_options = {k: spec.options[k] if k in spec.weight_options else v for k, v in merged.items()}
    return model
