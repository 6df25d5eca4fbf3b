"""What the fine-tuning runtime looks up instead of branching: training methods and task kinds' extension points.

The runtime knows the classic heads and strategies itself. Capabilities above it (prompts, spelling correction,
and any installed package) register here what they add: a :class:`Method` (how its model is built, what its
data look like to the model, how its model is loaded back) or a task kind's :class:`TaskKind` (its metrics, a
file reader of its own format, embedded presets). ``finetune`` never imports them: they are found through the
``chinese_ptm.finetune`` entry-point group (``pyproject.toml``) the first time a name is looked up and missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable

from ..errors import SettingsError

#: the entry-point group whose modules register methods and task kinds when imported
ENTRY_POINT_GROUP = "chinese_ptm.finetune"


@dataclass(frozen=True)
class Method:
    """A training method that replaces the task model (``method.<name>`` set in the configuration).

    ``prepare_task(task, method, tokenizer, max_length) -> task``: the task as the model reads it;
    ``build_model(method, labels, source, kind, tokenizer, scratch) -> model``: a model to train, or the saved one
    loaded back (``source`` then is the saved directory); ``state_dict(model)``: what a checkpoint holds, or
    ``None`` for the Trainer's default.
    """

    name: str
    prepare_task: Callable[..., Any]
    build_model: Callable[..., Any]
    state_dict: Callable[[Any], dict | None] = lambda model: None


@dataclass(frozen=True)
class TaskKind:
    """A task kind's extension points: ``metrics(examples, predicted) -> dict`` (rates x 100), and optionally
    ``read_file(path, split, settings) -> bool`` (reads a file of the kind's own format into the split; False when
    the file is not of that format) and ``presets`` (embedded task name -> ``loader(settings) -> dict of split examples``)."""

    name: str
    metrics: Callable[[list, Any], dict]
    read_file: Callable[..., bool] | None = None
    presets: dict[str, Callable[..., dict]] | None = None


METHODS: dict[str, Method] = {}
KINDS: dict[str, TaskKind] = {}
_loaded = False


def register_method(method: Method) -> Method:
    METHODS[method.name] = method
    return method


def register_kind(kind: TaskKind) -> TaskKind:
    KINDS[kind.name] = kind
    return kind


def load_plugins() -> None:
    """Import every module of the entry-point group once (each registers what it adds)."""
    global _loaded
    if not _loaded:
        _loaded = True
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            entry.load()


def _look_up(table: dict, name: str, what: str):
    if name not in table:
        load_plugins()
    if name not in table:
        raise SettingsError(
            f"no {what} {name!r} is registered (known: {', '.join(sorted(table)) or 'none'}); "
            "reinstall chinese_ptm, or install the package that provides it"
        )
    return table[name]


def method(name: str) -> Method:
    return _look_up(METHODS, name, "fine-tuning method")


def kind(name: str) -> TaskKind:
    return _look_up(KINDS, name, "task kind")


def preset_loader(name: str) -> Callable[..., dict] | None:
    """The loader of an embedded preset that a registered task kind provides, if any."""
    load_plugins()
    return next((k.presets[name] for k in KINDS.values() if k.presets and name in k.presets), None)
