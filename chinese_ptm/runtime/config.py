"""Typed run configuration shared by pretraining recipes and fine-tuning runs.  [no torch]

A configuration is a dataclass of sections. YAML files state only what differs from the defaults
(``extends:`` another file), ``--set section.field=value`` (or a bare field name that only one
section has) overrides anything, and every value is checked against its type; an unknown key is an
error naming it. The ``training`` section is transformers' own ``TrainingArguments``: its keys and
values are checked by transformers' argument parser (``HfArgumentParser``), so every Trainer option
works without code of ours, next to the few settings of ours in :class:`TrainingExtras`. The
``TrainingArguments`` object itself is built only when a run starts (building it sets up devices).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Literal, Optional, get_args, get_origin, get_type_hints

import yaml

from ..errors import SettingsError


def setting(text: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING) -> Any:
    """A configuration field with its help text."""
    metadata = {"help": text}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


# ---------------------------------------------------------------------------------------------
# the training section: TrainingArguments + ours
# ---------------------------------------------------------------------------------------------


@dataclass
class TrainingExtras:
    """The training settings that are ours (everything else is a TrainingArguments field)."""

    global_batch_size: Optional[int] = setting(
        "sequences per optimizer step over all devices; kept exact when the world size divides it, else the nearest "
        "reachable size is used (with a warning). Empty: per_device_train_batch_size x accumulation as given",
        None,
    )
    micro_batch_size: int = setting(
        "with global_batch_size: most sequences per device per forward pass (the per-device batch is the largest "
        "divisor of each device's share up to this; accumulation makes up the rest)",
        32,
    )
    optimizer: Literal["adamw", "lamb"] = setting("adamw (torch) or lamb (pytorch_optimizer)", "adamw")
    nonfinite_skips: int = setting(
        "a non-finite (NaN/inf) loss: 0 stops the run there, naming the step, the loss and the batch's record ids; "
        "N skips such a step (the optimizer leaves the weights alone) up to N times in a row, counting skips in the "
        "logs and the report",
        0,
    )


@functools.lru_cache(maxsize=1)
def _training_parser() -> tuple[argparse.ArgumentParser, dict]:
    from transformers import HfArgumentParser, TrainingArguments

    parser = HfArgumentParser(TrainingArguments)  # type: ignore[arg-type]  # transformers' DataClassType is a NewType
    actions = {a.dest: a for a in parser._actions if a.dest != "help"}
    return parser, actions


def _training_defaults() -> dict:
    from transformers import TrainingArguments

    out = {}
    for f in fields(TrainingArguments):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _typed_training_value(name: str, value: Any, where: str) -> Any:
    """``value`` as transformers' argument parser types the TrainingArguments field ``name``."""
    _, actions = _training_parser()
    action = actions.get(name)
    if action is None:
        ours = ", ".join(f.name for f in fields(TrainingExtras))
        raise SettingsError(
            f"{where}: unknown key {name!r} (training keys are TrainingArguments fields, see "
            f"transformers' documentation, and ours: {ours})"
        )
    if value is None or isinstance(value, dict) or action.type is None:
        return value
    try:
        if isinstance(value, list) or action.nargs in ("+", "*"):
            items = value if isinstance(value, list) else [v for v in str(value).split(",") if v]
            typed = [action.type(str(v)) for v in items]
        else:
            if value is False and action.choices is not None and "no" in {str(c) for c in action.choices}:
                value = "no"  # YAML reads a bare `no` (eval_strategy: no) as false
            typed = action.type(_as_text(value))
    except (TypeError, ValueError, argparse.ArgumentTypeError) as err:
        raise SettingsError(f"{where}: {value!r} is not a valid value ({err})") from None
    if action.choices is not None:
        for item in typed if isinstance(typed, list) else [typed]:
            if item not in action.choices and str(item) not in {str(c) for c in action.choices}:
                raise SettingsError(f"{where}: {item!r} is not one of {', '.join(map(str, action.choices))}")
    return typed


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class TrainingSettings:
    """The ``training`` section: explicit TrainingArguments values over a runner's defaults, plus
    :class:`TrainingExtras`. Attribute access reads a value (set, runner default or transformers'
    default); :meth:`arguments` builds the TrainingArguments for a run."""

    def __init__(self, defaults: dict | None = None):
        self.extras = TrainingExtras()
        self.values: dict[str, Any] = {}
        self.update(dict(defaults or {}), "training defaults")

    def update(self, data: dict, where: str) -> "TrainingSettings":
        if not isinstance(data, dict):
            raise SettingsError(f"{where}: expected a mapping, got {data!r}")
        ours = {f.name for f in fields(TrainingExtras)}
        hints = get_type_hints(TrainingExtras)
        for name, value in data.items():
            if name in ours:
                setattr(self.extras, name, coerce(value, hints[name], f"{where}.{name}"))
            else:
                self.values[name] = _typed_training_value(name, value, f"{where}.{name}")
        return self

    def __getattr__(self, name: str) -> Any:
        if name in ("extras", "values"):
            raise AttributeError(name)
        if name in {f.name for f in fields(TrainingExtras)}:
            return getattr(self.extras, name)
        if name in self.values:
            return self.values[name]
        defaults = _training_defaults()
        if name in defaults:
            return defaults[name]
        raise AttributeError(f"training has no setting {name!r}")

    def to_dict(self) -> dict:
        return {**json.loads(json.dumps(self.values, default=str)), **dataclasses.asdict(self.extras)}

    def arguments(self, **forced) -> Any:
        """TrainingArguments of the set values with ``forced`` on top (sets up devices: call at run time)."""
        from transformers import TrainingArguments

        values = {**self.values, **forced}
        try:
            return TrainingArguments(**values)
        except ValueError as err:  # transformers' own consistency checks name the fields
            raise SettingsError(f"training: {err}") from None

    @staticmethod
    def help() -> list[str]:
        lines = [f"  {f.name} = {f.default!r}: {f.metadata['help']}" for f in fields(TrainingExtras)]
        return lines + [
            "  ...and every TrainingArguments field (learning_rate, num_train_epochs, max_steps, warmup_steps, "
            "eval_strategy, bf16, deepspeed, fsdp ...), checked by transformers' argument parser"
        ]


# ---------------------------------------------------------------------------------------------
# typed sections
# ---------------------------------------------------------------------------------------------


def coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` (from YAML or the command line) as type ``hint``, or a SettingsError naming ``where``."""
    origin = get_origin(hint)
    if origin is not None and type(None) in get_args(hint) and origin is not list:
        if value is None or value == "":
            return None
        inner = [a for a in get_args(hint) if a is not type(None)][0]
        return coerce(value, inner, where)
    if origin is Literal:
        if value not in get_args(hint):
            raise SettingsError(f"{where}: {value!r} is not one of {', '.join(map(repr, get_args(hint)))}")
        return value
    if origin is list:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, list):
            raise SettingsError(f"{where}: expected a list, got {value!r}")
        (inner,) = get_args(hint) or (Any,)
        return [coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if hint is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise SettingsError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint in (int, float):
        return _number(value, hint, where)
    if hint is str:
        if not isinstance(value, (str, int, float)):
            raise SettingsError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if hint is dict and not isinstance(value, dict):
        raise SettingsError(f"{where}: expected a mapping, got {value!r}")
    return value


def _number(value: Any, hint: type, where: str):
    if isinstance(value, bool):
        raise SettingsError(f"{where}: expected a number, got {value!r}")
    try:
        number = hint(float(value)) if hint is int else hint(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{where}: expected {hint.__name__}, got {value!r}") from None
    if hint is int and float(value) != number:
        raise SettingsError(f"{where}: expected an integer, got {value!r}")
    return number


def fill(obj: Any, data: dict, where: str) -> Any:
    """Set ``data`` onto the dataclass instance ``obj`` (nested sections, lists of sections, the training
    section), checking every key and value."""
    cls = type(obj)
    if not isinstance(data, dict):
        raise SettingsError(f"{where}: expected a mapping, got {data!r}")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    for name, value in data.items():
        hint, current = hints[name], getattr(obj, name)
        if isinstance(current, TrainingSettings):
            current.update(value or {}, f"{where}.{name}")
        elif dataclasses.is_dataclass(hint):
            fill(current, value, f"{where}.{name}")
        elif get_origin(hint) is list and dataclasses.is_dataclass((get_args(hint) or (None,))[0]):
            item = get_args(hint)[0]
            setattr(obj, name, [fill(item(), v, f"{where}.{name}[{i}]") for i, v in enumerate(value or [])])
        else:
            setattr(obj, name, coerce(value, hint, f"{where}.{name}"))
    return obj


def merge(base: dict, over: dict, keep_whole: tuple[str, ...] = ("set",)) -> dict:
    """``over`` merged into ``base`` section by section (the keys in ``keep_whole`` replace, not merge)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in keep_whole:
            out[key] = merge(out[key], value, keep_whole)
        else:
            out[key] = value
    return out


def resolve_key(key: str, schema: type) -> str:
    """``section.field`` as given, or a bare field name that exactly one section of ``schema`` has."""
    if "." in key or key in {f.name for f in fields(schema)}:
        return key
    owners = [f.name for f in fields(schema) if _section_has(f, key)]
    if len(owners) == 1:
        return f"{owners[0]}.{key}"
    if len(owners) > 1:
        raise SettingsError(f"--set {key}: ambiguous, say which section: " + ", ".join(f"{o}.{key}" for o in owners))
    raise SettingsError(f"--set {key}: unknown setting; known: {', '.join(sorted(known_keys(schema)))}")


def _section_has(f, key: str) -> bool:
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    if isinstance(default, TrainingSettings):
        return key in {x.name for x in fields(TrainingExtras)} or key in _training_parser()[1]
    return dataclasses.is_dataclass(default) and key in {x.name for x in fields(default)}


def known_keys(schema: type) -> list[str]:
    """Every ``section.field`` (and top-level field) of ``schema``, for messages."""
    keys = []
    for f in fields(schema):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if isinstance(default, TrainingSettings):
            keys.append(f"{f.name}.<TrainingArguments field>")
            keys += [f"{f.name}.{x.name}" for x in fields(TrainingExtras)]
        elif dataclasses.is_dataclass(default):
            keys += [f"{f.name}.{x.name}" for x in fields(default)]
        else:
            keys.append(f.name)
    return keys


def apply_overrides(data: dict, overrides: dict[str, Any], schema: type | None = None) -> dict:
    """``{"training.max_steps": "10"}`` -> a nested update of ``data`` (strings are read as YAML scalars)."""
    data = json.loads(json.dumps(data))
    for key, value in overrides.items():
        parts = (resolve_key(key, schema) if schema is not None else key).split(".")
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SettingsError(f"--set {key}: {part} is not a section")
        if isinstance(value, str):
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError:
                pass
        node[parts[-1]] = value
    return data


def read_layers(path: Path, resolve: Callable[[str, Path], Path], seen: tuple = ()) -> dict:
    """A YAML configuration merged over the file it ``extends`` (resolved by ``resolve(name, path)``)."""
    if path in seen:
        raise SettingsError(f"{path}: 'extends' loops back to itself")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise SettingsError(f"{path}: not valid YAML ({err})") from None
    except OSError as err:
        raise SettingsError(f"{path}: cannot read ({err.strerror})") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: a configuration is a mapping of sections")
    parent = data.pop("extends", None)
    if parent:
        data = merge(read_layers(resolve(str(parent), path), resolve, seen + (path,)), data)
    return data


def describe_fields(schema: type) -> str:
    """Every field of every section with its default and help (``--help-recipe``, ``--help-settings``)."""
    lines = []
    for f in fields(schema):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if isinstance(default, TrainingSettings):
            lines.append(f"{f.name}:")
            lines += [f"  {k} = {v!r}" for k, v in sorted(default.values.items())]
            lines += TrainingSettings.help()
        elif dataclasses.is_dataclass(default):
            lines.append(f"{f.name}:")
            for x in fields(default):
                if x.default is not dataclasses.MISSING:
                    value = x.default
                else:
                    assert x.default_factory is not dataclasses.MISSING  # every field of a section has a default
                    value = x.default_factory()
                lines.append(f"  {x.name} = {value!r}: {x.metadata.get('help', '')}")
        elif f.metadata.get("help"):
            lines.append(f"{f.name} = {default!r}: {f.metadata['help']}")
    return "\n".join(lines)


def parse_sets(values: list[str], example: str = "--set name=value") -> dict[str, str]:
    """``["a.b=1", "c=x"]`` -> ``{"a.b": "1", "c": "x"}`` (the ``--set`` options of several commands)."""
    settings = {}
    for item in values:
        if "=" not in item:
            raise SettingsError(f"--set {item!r}: expected NAME=VALUE, e.g. {example}")
        name, value = item.split("=", 1)
        settings[name.strip()] = value.strip()
    return settings
