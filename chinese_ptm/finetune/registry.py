"""What the fine-tuning runtime looks up instead of branching: training methods and task kinds' extension points.

Every task kind is a :class:`TaskKind` (the built-in ones in :mod:`chinese_ptm.finetune.tasks`, one module
each); capabilities above the runtime (prompts, spelling correction, any installed package) register what they
add the same way: a :class:`Method` (how its model is built, what its data look like to the model, how its
model is loaded back) or a kind. The runtime never imports them: they are found through the
``chinese_ptm.finetune`` entry-point group (``pyproject.toml``) the first time a name is looked up and missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, Callable

from ..errors import SettingsError

#: the entry-point group whose modules register methods and task kinds when imported
ENTRY_POINT_GROUP = "chinese_ptm.finetune"
#: the package of the built-in task kinds, found by name like the entry points (it imports this module)
BUILTIN_KINDS = "chinese_ptm.finetune.tasks"


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


class TaskKind:
    """A task kind: every step of a fine-tuning run that depends on what is predicted.

    One subclass per kind (:mod:`chinese_ptm.finetune.tasks`, and :mod:`chinese_ptm.csc.kind` for spelling
    correction) says how a file row becomes an example (``read_example``), examples become features
    (``encode``), which head the model gets (``head`` for transformers' class, ``make_head``/``head_forward``
    for :class:`~chinese_ptm.finetune.model.TaskModel`), outputs become predictions (``decode``), predictions
    are scored (``metrics``) and written (``prediction_row``), and which trivial baselines fit (``baselines``).
    Steps every kind has its own of raise ``NotImplementedError`` here; the optional ones default to nothing
    special (no file format of its own, no baselines, logits kept as they are).
    """

    #: the kind's name (``TaskData.kind``)
    name: str = ""
    #: what users write for it (``--task``): user name -> whether its rows hold a text pair
    user_names: dict[str, bool] = {}
    #: its main metric unless a task says otherwise
    main_metric: str = ""
    #: transformers' head class, after the family's prefix (GlyceBert..., Bert..., Albert..., Electra...)
    head: str = "ForSequenceClassification"
    #: the head class even when the method picks other layers or pooling (there is nothing to pool)
    standard_head_only: bool = False
    #: the batch keys that hold targets (the Trainer's ``label_names``)
    target_keys: tuple[str, ...] = ("labels",)
    #: embedded tasks of this kind: name -> ``loader(settings) -> {split: examples}``
    presets: dict[str, Callable[..., dict]] = {}
    #: whether evaluation generates (``prediction_step``) instead of reading the forward's logits
    generates: bool = False

    # -- reading ------------------------------------------------------------------------------
    def needed_fields(self, settings) -> list[str]:
        """The columns every row must have."""
        return [settings.text_field] + ([settings.text_pair_field] if self.user_names.get(settings.kind) else [])

    def label_field(self, settings) -> str:
        return settings.label_field

    def read_file(self, path, split, settings) -> bool:
        """Read a file of the kind's own format into ``split``; False when ``path`` is not one."""
        return False

    def read_example(self, row: dict, where: str, index: int, settings, context) -> Any:
        """One example of a row (``context``: the label reader, entity types seen, labelled, training), or a
        string saying why the row is skipped."""
        raise NotImplementedError

    def finish_task(self, splits: dict, label_names: tuple, types: set) -> tuple[tuple, int]:
        """(label names, number of choices) once every split is read."""
        return label_names, 0

    # -- features, model, decoding ---------------------------------------------------------------
    def encode(self, encoder, chunk: list, start: int, train: bool, out) -> None:
        raise NotImplementedError

    def head_config(self, task) -> dict:
        """Config fields the head needs: label names (kept with the model) and the loss."""
        return {}

    def make_head(self, hidden: int, num_labels: int) -> tuple[str, Any]:
        """(attribute name, module) of the head :class:`TaskModel` puts on the encoder."""
        raise NotImplementedError

    def head_forward(self, model, inputs: dict, targets: dict):
        """:class:`TaskModel`'s forward for this kind: a transformers ``ModelOutput`` with the loss."""
        raise NotImplementedError

    def build_model(self, task, config, checkpoint_kind: str) -> Any:
        """A model of the kind's own making for ``config`` (fine-tuning configuration), or None: the head class
        on the checkpoint (the default)."""
        return None

    def saved_model(self, directory, record: dict) -> Any:
        """A saved model of the kind's own making (what ``build_model`` made) loaded back, or None."""
        return None

    def finish_model(self, model, tokenizer) -> None:
        """Give a freshly built task model what it needs from the tokenizer (nothing by default)."""

    def prediction_step(self, model, inputs: dict, settings) -> Any:
        """A generating kind's outputs for one evaluation batch (``generates``), in place of the logits."""
        raise NotImplementedError

    def logits_for_metrics(self, logits: Any, labels: Any = None) -> Any:
        """What evaluation keeps of the logits (the Trainer's ``preprocess_logits_for_metrics``)."""
        return logits

    def numpy_outputs(self, output) -> tuple:
        """A model output as the numpy arrays ``decode`` reads (prediction outside the Trainer)."""
        return (output.logits.float().numpy(),)

    def decode(self, task, output: Any, encoded, examples: list, settings) -> Any:
        raise NotImplementedError

    # -- scores and rows ------------------------------------------------------------------------
    def metrics(self, task, examples: list, predicted: Any) -> dict:
        raise NotImplementedError

    def prediction_of(self, predicted: Any, index: int, example) -> Any:
        """One example's prediction out of what ``decode`` returned (a list in example order by default)."""
        return predicted[index]

    def prediction_row(self, task, example, predicted: Any) -> dict:
        raise NotImplementedError

    def file_row(self, task, example) -> dict:
        """The example as a row of the own-data JSON lines format (``finetune export``)."""
        raise NotImplementedError

    def baselines(self, task, train, target) -> dict[str, Any]:
        """The trivial baselines that fit the kind: name -> predictions on ``target``."""
        return {}


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
    """Import the built-in kinds and every module of the entry-point group once (each registers what it adds)."""
    global _loaded
    if not _loaded:
        _loaded = True
        import_module(BUILTIN_KINDS)
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
    found = preset_kind(name)
    return found.presets[name] if found is not None else None


def preset_kind(name: str) -> TaskKind | None:
    """The registered task kind that provides the embedded preset ``name``, if any."""
    load_plugins()
    return next((k for k in KINDS.values() if name in k.presets), None)


def user_kind(name: str) -> TaskKind:
    """The kind a user names (``--task single``)."""
    load_plugins()
    found = next((k for k in KINDS.values() if name in k.user_names), None)
    if found is None:
        known = sorted(n for k in KINDS.values() for n in k.user_names)
        raise SettingsError(f"task.kind {name!r} is not a task kind (known: {', '.join(known)})")
    return found


def task_metrics(task, predicted: Any, split) -> dict:
    """The task's metrics on a labelled split (x 100 where they are rates); ``score`` is the main one."""
    metrics = kind(task.kind).metrics(task, split.examples, predicted)
    return {"score": metrics[task.metric], **metrics}


def baselines(task, split: str = "test") -> dict[str, dict]:
    """The trivial baselines that fit the task, scored on ``split`` with the task's metrics."""
    train, target = task.splits["train"], task.splits[split]
    predicted = kind(task.kind).baselines(task, train, target)
    return {name: task_metrics(task, values, target) for name, values in predicted.items()}
