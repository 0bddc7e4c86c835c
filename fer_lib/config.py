"""Experiment configs: one YAML per experiment under fer_lib/configs/, with profiles and inheritance.

`load_config(name)` reads `fer_lib/configs/<name>.yaml` (or a path), follows its `base:` chain
(deep merge, child wins), merges `profiles.<profile>` on top, then `overrides`, and validates every
key against SCHEMA (an unknown key is a ValueError naming it and the file). Mappings merge key by
key, except the keys in REPLACE_KEYS (`splits`, `options`, `balance`), which a later layer replaces
whole, so a profile can swap `data.splits` or `data.options` without inheriting stale entries.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
PROFILES = ("smoke", "real-smoke", "full")
# real-smoke: the full profile (the experiment's real dataset and recipe) on a small seeded subset for two
# epochs: minutes on a CPU, a pipeline check on real images. Like smoke it never writes into the record.
REAL_SMOKE = {"data.max_samples": {"train": 512, "val": 256, "test": 512}, "train.epochs": 2,
              "evaluate.bootstrap": 200, "seeds": [0]}
REPLACE_KEYS = frozenset({"splits", "options", "balance"})
FREE_KEYS = frozenset({"options", "splits", "resample"})  # free-form mappings: their keys are not checked

# Every key a config may hold, with its default. Nested dicts are sections; None means "no default".
SCHEMA: dict[str, Any] = {
    "experiment": None,
    "paper": None,
    "description": "",
    "abstract": False,  # a base config that only other configs inherit from; not runnable
    "model": {"name": None, "options": {}, "pretrained": False},
    "data": {
        "dataset": None,
        "options": {},
        "input_size": None,
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "splits": None,
        "max_samples": {"train": None, "val": None, "test": None},  # cap per split (smoke runs)
        "fold": None,  # with a kfold split spec: which fold is test (overrides splits.fold; --set data.fold=3)
    },
    "augment": {
        "hflip": 0.0, "rotate_deg": 0.0, "translate": 0.0, "zoom": 0.0,
        "brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "hue": 0.0,
        "blur": None,  # {kernel: int, sigma: [lo, hi], p: float}
    },
    "balance": {"class_weights": None, "resample": None, "copy_augment": None},
    "loss": {"name": "cross_entropy", "label_smoothing": 0.0},
    "optim": {"name": "adam", "lr": 1.0e-3, "weight_decay": 0.0, "momentum": 0.9, "betas": [0.9, 0.999]},
    "schedule": {"name": "none", "step_size": 10, "gamma": 0.1, "min_lr": 0.0},
    "train": {
        "batch_size": 32,
        "epochs": 1,
        "early_stopping": {"metric": "val_acc", "patience": None},
        "select": "val_acc",
        # auto: bf16 autocast on CUDA and on CPUs with native bf16 units (AMX / AVX512-BF16), else fp32
        "precision": "auto",      # auto | fp32 | bf16 | fp16 (fer_lib.devices.autocast_dtype)
        "channels_last": "auto",  # auto (on CUDA and CPU) | true | false (fer_lib.engine.runtime.make_runtime)
        "dwconv_fp32": "auto",    # auto (bf16 on an AMX CPU) | true | false: depthwise convs outside autocast
        "compile": False,         # torch.compile the model (any device; measured slower on CPU here)
        "grad_clip": None,
        "eval_batch_size": 256,
    },
    "evaluate": {"include_train": False, "bootstrap": 1000},
    "seeds": [0],
}
BLUR_KEYS = {"kernel", "sigma", "p"}
AUGMENT_KEYS = set(SCHEMA["augment"])
ENUMS = {
    ("loss", "name"): {"cross_entropy"},
    ("optim", "name"): {"adam", "adamw", "sgd"},
    ("schedule", "name"): {"none", "step", "cosine"},
    ("train", "precision"): {"auto", "fp32", "bf16", "fp16"},
    ("balance", "class_weights"): {None, "inverse_frequency", "inverse_sqrt_frequency", "none"},  # data.class_weights
}
METRICS = {"val_acc", "val_loss", "val_f1_weighted"}


def list_configs(include_abstract: bool = False) -> list[str]:
    """Names of the experiment configs in fer_lib/configs (abstract bases excluded unless asked)."""
    names = []
    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        if include_abstract or not _read_yaml(path).get("abstract", False):
            names.append(path.stem)
    return names


def config_path(name_or_path: str | Path) -> Path:
    """The YAML file for a config name (fer_lib/configs/<name>.yaml) or an explicit path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.exists():
        return candidate.resolve()
    path = CONFIG_DIR / f"{candidate.stem if candidate.suffix in ('.yaml', '.yml') else name_or_path}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no experiment config {str(name_or_path)!r}: expected {path} "
                                f"(available: {', '.join(list_configs())})")
    return path


def deep_merge(base: dict, top: dict, replace: frozenset = REPLACE_KEYS) -> dict:
    """A new dict: `top` merged into `base` recursively; keys in `replace` are replaced whole."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in replace:
            out[key] = deep_merge(out[key], value, replace)
        else:
            out[key] = copy.deepcopy(value)
    return out


def expand_dotted(overrides: dict | None) -> dict:
    """{"train.epochs": 3} -> {"train": {"epochs": 3}} (plain nested dicts pass through)."""
    out: dict = {}
    for key, value in (overrides or {}).items():
        parts = str(key).split(".")
        layer = {parts[-1]: value}
        for part in reversed(parts[:-1]):
            layer = {part: layer}
        out = deep_merge(out, layer)
    return out


def load_config(name_or_path: str | Path, profile: str = "smoke", overrides: dict | None = None) -> dict:
    """The fully merged, validated config of one experiment for a profile ("smoke" or "full")."""
    if profile == "real-smoke":
        merged = load_config(name_or_path, "full", {**REAL_SMOKE, **(overrides or {})})
        merged["train"]["batch_size"] = min(int(merged["train"]["batch_size"]), 32)
        merged["profile"] = "real-smoke"
        return merged
    path = config_path(name_or_path)
    raw = _resolve_bases(path, seen=())
    profiles = raw.pop("profiles", {}) or {}
    for prof_name, prof in profiles.items():
        _check_keys(prof or {}, SCHEMA, f"{path.name}: profiles.{prof_name}")
    if profile not in profiles and profile != "full":
        raise ValueError(f"{path.name}: no profile {profile!r} (has: {', '.join(profiles) or 'none'})")
    merged = deep_merge(raw, profiles.get(profile) or {})
    over = expand_dotted(overrides)
    _check_keys(over, SCHEMA, f"{path.name}: overrides")
    merged = deep_merge(merged, over)
    merged = deep_merge(_defaults(), merged, replace=frozenset())  # fill every key the file leaves out
    merged.pop("base", None)
    merged["profile"] = profile
    validate(merged, where=path.name)
    return merged


def split_spec(cfg: dict) -> dict:
    """The config's split spec (fer_lib.data.split_indices) with data.fold applied to a kfold spec."""
    spec = dict(cfg["data"]["splits"])
    fold = cfg["data"].get("fold")
    if fold is not None:
        if "kfold" not in spec:
            raise ValueError(f"data.fold={fold!r} needs a kfold split spec, got {spec}")
        spec["fold"] = fold
    return spec


def run_fold(cfg: dict) -> int | None:
    """The test fold of a k-fold run (None for other protocols)."""
    spec = cfg["data"]["splits"]
    return int(split_spec(cfg).get("fold", 0)) if "kfold" in spec else None


def validate(cfg: dict, where: str = "config") -> None:
    """Raise ValueError naming the first unknown key or invalid value in a merged config."""
    body = {k: v for k, v in cfg.items() if k != "profile"}
    _check_keys(body, SCHEMA, where)
    _check_types(body, SCHEMA, where)
    if cfg.get("abstract"):
        raise ValueError(f"{where}: is an abstract base config; run a config that inherits from it")
    for key in ("experiment", "paper"):
        if not cfg.get(key):
            raise ValueError(f"{where}: missing required key {key!r}")
    if not cfg["model"].get("name"):
        raise ValueError(f"{where}: missing model.name")
    data = cfg["data"]
    if not data.get("dataset"):
        raise ValueError(f"{where}: missing data.dataset")
    if not isinstance(data.get("input_size"), int) or data["input_size"] < 8:
        raise ValueError(f"{where}: data.input_size must be an integer >= 8, got {data.get('input_size')!r}")
    if not isinstance(data.get("splits"), dict):
        raise ValueError(f"{where}: data.splits must be a mapping (see fer_lib.data.split_indices)")
    if "ratios" not in data["splits"] and not data["splits"].get("val"):
        raise ValueError(f"{where}: data.splits has no 'val': model selection and early stopping need a validation "
                         f"split; add val: {{holdout: 0.1}} (a stratified 10% of train) or val: [<split names>]")
    fold = data.get("fold")
    if fold is not None and (isinstance(fold, bool) or not isinstance(fold, int) or fold < 0
                             or "kfold" not in data["splits"] or fold >= int(data["splits"]["kfold"])):
        raise ValueError(f"{where}: data.fold={fold!r} must be a fold number 0..k-1 of a kfold split spec")
    patience = cfg["train"]["early_stopping"].get("patience")
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
        raise ValueError(f"{where}: train.early_stopping.patience must be a positive integer or null, got {patience!r}")
    for key in ("mean", "std"):
        if len(data[key]) != 3:
            raise ValueError(f"{where}: data.{key} needs 3 values, got {data[key]!r}")
    for (section, key), allowed in ENUMS.items():
        if cfg[section].get(key) not in allowed:
            raise ValueError(f"{where}: {section}.{key}={cfg[section].get(key)!r} is not one of "
                             f"{sorted(a for a in allowed if a is not None)}")
    balance = cfg["balance"]
    if balance.get("class_weights") and balance.get("resample"):
        raise ValueError(f"{where}: balance has both class_weights and resample; choose one")
    for name, recipe in (("augment", cfg["augment"]), ("balance.copy_augment", balance.get("copy_augment"))):
        if recipe is None:
            continue
        unknown = set(recipe) - AUGMENT_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown key {name}.{sorted(unknown)[0]!r} (known: {sorted(AUGMENT_KEYS)})")
        blur = recipe.get("blur")
        if blur is not None and set(blur) - BLUR_KEYS:
            raise ValueError(f"{where}: unknown key {name}.blur.{sorted(set(blur) - BLUR_KEYS)[0]!r}")
    train = cfg["train"]
    for metric in (train["select"], train["early_stopping"]["metric"]):
        if metric not in METRICS:
            raise ValueError(f"{where}: metric {metric!r} is not one of {sorted(METRICS)}")
    if not isinstance(train["epochs"], int) or train["epochs"] < 1:
        raise ValueError(f"{where}: train.epochs must be a positive integer")
    if not isinstance(train["batch_size"], int) or train["batch_size"] < 1:
        raise ValueError(f"{where}: train.batch_size must be a positive integer")
    if cfg["schedule"]["name"] == "step" and not cfg["schedule"].get("step_size"):
        raise ValueError(f"{where}: schedule step needs step_size")
    if not cfg["seeds"] or not all(isinstance(s, int) for s in cfg["seeds"]):
        raise ValueError(f"{where}: seeds must be a non-empty list of integers")


# Keys whose default's type is not the only one they take (every key whose default is None is free too).
_ANY_TYPE = frozenset({"model.pretrained", "train.channels_last", "train.dwconv_fp32"})  # bool or a path / "auto"


def _type_name(value: Any) -> str:
    return type(value).__name__


def _check_types(data: dict, schema: dict, where: str, prefix: str = "") -> None:
    """Each value has the type of its default: a number where the default is a number (lr=3e-4, not 'fast'),
    a mapping where the schema has a section (train.early_stopping={metric, patience}, not 5), a list for lists."""
    for key, value in data.items():
        dotted, default = f"{prefix}{key}", schema.get(key)
        if dotted in _ANY_TYPE or key in FREE_KEYS or default is None:
            continue
        if isinstance(default, dict):
            if not isinstance(value, dict):
                example = ", ".join(f"{k}: ..." for k in default) or "..."
                raise ValueError(f"{where}: {dotted} must be a mapping like {{{example}}}, got {value!r} "
                                 f"({_type_name(value)})")
            if default:
                _check_types(value, default, where, f"{dotted}.")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{where}: {dotted} must be true or false, got {value!r} ({_type_name(value)})")
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{where}: {dotted} must be a number, got {value!r} ({_type_name(value)}); write "
                                 f"numbers as e.g. 3e-4 or 0.0003")
            if key in _INT_KEYS and not isinstance(value, int):
                raise ValueError(f"{where}: {dotted} must be an integer, got {value!r}")
        elif isinstance(default, list) and not isinstance(value, list):
            raise ValueError(f"{where}: {dotted} must be a list like {default!r}, got {value!r}")
        elif isinstance(default, str) and not isinstance(value, str):
            raise ValueError(f"{where}: {dotted} must be text, got {value!r} ({_type_name(value)})")


_INT_KEYS = frozenset({"batch_size", "epochs", "step_size", "eval_batch_size", "bootstrap"})


def _defaults() -> dict:
    return copy.deepcopy(SCHEMA)


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: invalid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: an experiment config must be a mapping at top level")
    return data


def _resolve_bases(path: Path, seen: tuple[Path, ...]) -> dict:
    if path in seen:
        chain = " -> ".join(p.stem for p in (*seen, path))
        raise ValueError(f"config inheritance cycle: {chain}")
    raw = _read_yaml(path)
    _check_keys({k: v for k, v in raw.items() if k not in ("profiles", "base")}, SCHEMA, path.name)
    base = raw.get("base")
    if not base:
        return raw
    parent = _resolve_bases(config_path(base), (*seen, path))
    parent.pop("abstract", None)  # inheriting from an abstract base makes a concrete config
    merged = deep_merge(parent, {k: v for k, v in raw.items() if k != "base"})
    return merged


def _check_keys(data: dict, schema: dict, where: str, prefix: str = "") -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key in ("profiles", "base") and not prefix:
            continue
        if key not in schema:
            raise ValueError(f"{where}: unknown config key {dotted!r} (known here: {', '.join(sorted(schema))})")
        sub = schema[key]
        if key in FREE_KEYS or not isinstance(sub, dict) or not sub:
            continue
        if isinstance(value, dict):
            if key == "augment" or key == "copy_augment":
                continue  # checked in validate() (blur has its own keys)
            _check_keys(value, sub, where, f"{dotted}.")


_LEGACY_PRECISION = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


def upgrade_stored_config(cfg: dict, recorded_precision: str | None = None, recorded_layout: dict | None = None) -> dict:
    """A run's stored config in today's schema (records of schema 1 had train.amp, not train.precision).

    A run keeps the precision it actually trained with (its manifest's `precision`), so that re-evaluating
    or resuming it computes exactly as it did: `auto` is resolved where the run started, and resolving it
    again on another machine (a CPU without bf16 units, a GPU) would change the arithmetic. The same holds
    for the engine's layout choices (`recorded_layout`: the manifest's channels_last, dwconv_fp32, compiled;
    a run recorded before dwconv_fp32 existed ran without it).
    """
    out = copy.deepcopy(cfg)
    train = out.setdefault("train", {})
    recorded = _LEGACY_PRECISION.get(recorded_precision or "")
    if "amp" in train:
        amp = train.pop("amp")
        legacy = {"off": "fp32", "bf16": "bf16", "fp16": "fp16"}.get(amp)
        train.setdefault("precision", recorded or legacy or "fp32")
    if train.get("precision") == "auto" and recorded:
        train["precision"] = recorded
    if recorded_layout is not None:
        if train.get("channels_last", "auto") == "auto" and recorded_layout.get("channels_last") is not None:
            train["channels_last"] = bool(recorded_layout["channels_last"])
        if train.get("dwconv_fp32", "auto") == "auto":
            train["dwconv_fp32"] = bool(recorded_layout.get("dwconv_fp32", False))
        if recorded_layout.get("compiled") is not None:
            train["compile"] = bool(recorded_layout["compiled"])
    return deep_merge(_defaults(), out, replace=frozenset())
