"""Templates and verbalisers: a classification task phrased as filling a blank.  [no torch]

A template holds the text (``{text}``; ``{text_pair}`` for pairs) and the blank: ``{mask}``, which becomes as many
[MASK] slots as the label word being scored has tokens, or a literal run of ``[MASK]`` whose length every label
word must have. A verbaliser maps each label to one or more label words (``{"positive": ["很好", "不错"]}``).
The template's own characters are tokenised with the text, so under GlyceBERT they carry their readings in
context while the [MASK] slots carry zero pinyin.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..data.encoding import read_text
from ..errors import SettingsError

MASK = "[MASK]"
SLOT = "{mask}"
FIELDS = ("{text}", "{text_pair}")


@dataclass(frozen=True)
class Template:
    pattern: str

    def __post_init__(self):
        p = self.pattern
        if "{text}" not in p:
            raise SettingsError(
                f"template {p!r}: no {{text}} placeholder; write where the text goes, e.g. '{{text}}。总之，{SLOT}。'"
            )
        runs = re.findall(r"(?:\[MASK\])+", p)
        if p.count(SLOT) + len(runs) != 1:
            raise SettingsError(
                f"template {p!r}: needs exactly one blank, {SLOT} (as long as the label word) or a run of {MASK}"
            )
        leftover = re.sub(r"\{text\}|\{text_pair\}|\{mask\}", "", p)
        if "{" in leftover or "}" in leftover:
            raise SettingsError(f"template {p!r}: unknown placeholder; use {{text}}, {{text_pair}} and {SLOT}")

    @property
    def fixed_slots(self) -> int | None:
        """The length of a literal [MASK] run (every label word must have it), None for ``{mask}``."""
        run = re.search(r"(?:\[MASK\])+", self.pattern)
        return len(run.group(0)) // len(MASK) if run else None

    @property
    def pair(self) -> bool:
        return "{text_pair}" in self.pattern

    def render(self, text: str, text_pair: str | None, slots: int) -> str:
        """The template filled with the texts and ``slots`` [MASK] tokens."""
        if self.pair and text_pair is None:
            raise SettingsError(
                f"template {self.pattern!r} has {{text_pair}} but the task's examples are single "
                "texts; drop it from the template"
            )
        blank = MASK * slots
        pattern = re.sub(r"(?:\[MASK\])+", lambda _m: blank, self.pattern).replace(SLOT, blank)
        return pattern.replace("{text_pair}", text_pair or "").replace("{text}", text)

    def overhead(self) -> int:
        """Characters the template adds around the texts (the budget the texts are cut to leaves room for them)."""
        return len(re.sub(r"\{text\}|\{text_pair\}|\{mask\}|(?:\[MASK\])+", "", self.pattern))


@dataclass(frozen=True)
class Verbalizer:
    """Label -> label words, in the task's label order."""

    words: dict[str, tuple[str, ...]]

    @classmethod
    def parse(cls, value: str | dict, labels: tuple[str, ...] | None = None) -> Verbalizer:
        """From a dict, a JSON file, inline JSON or ``positive=很好,不错;negative=很差``; with ``labels``, checked
        to cover them and put in their order."""
        mapping = value if isinstance(value, dict) else _read(value)
        words = {str(k): tuple([v] if isinstance(v, str) else v) for k, v in mapping.items()}
        for label, options in words.items():
            if not options or not all(isinstance(w, str) and w.strip() for w in options):
                raise SettingsError(f"verbalizer: label {label!r} needs one or more non-empty label words")
        if labels is not None:
            missing = [label for label in labels if label not in words]
            if missing:
                raise SettingsError(
                    f"verbalizer: no label words for label(s) {', '.join(map(repr, missing))} of "
                    f"the data (it has {', '.join(map(repr, words))}); add them"
                )
            words = {label: words[label] for label in labels}
        return cls(words)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.words)

    def to_dict(self) -> dict:
        return {label: list(options) for label, options in self.words.items()}


def _read(value: str) -> dict:
    path = Path(value)
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise SettingsError(f"verbalizer {value}: no such file")
        text = read_text(path)
    else:
        text = value
    if text.lstrip().startswith("{"):
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError as err:
            raise SettingsError(f"verbalizer {value}: not valid JSON ({err.msg}, line {err.lineno})") from None
        if not isinstance(mapping, dict):
            raise SettingsError(f"verbalizer {value}: expected an object label -> word(s)")
        return mapping
    pairs = [item.split("=", 1) for item in text.split(";") if item.strip()]
    if not pairs or any(len(p) != 2 for p in pairs):
        raise SettingsError(f"verbalizer {value!r}: expected a JSON file, JSON, or label=word,word;label=word")
    return {label.strip(): [w.strip() for w in words.split(",") if w.strip()] for label, words in pairs}
