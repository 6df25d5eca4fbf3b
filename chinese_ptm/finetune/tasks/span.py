"""Extractive question answering (CMRC 2018, SQuAD-style): a question and a context; a long context becomes
overlapping windows, and the answer is the best start/end pair over all windows of its question."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn
from transformers.modeling_outputs import QuestionAnsweringModelOutput

from ...modeling.losses import span_loss
from ..clue_readers import read_cmrc
from ..examples import DataError, SpanExample, check_span_answer, load_json, row_id, strings_field, text_field
from ..features import NO_OFFSET, PAIR_SPECIAL_TOKENS, Encoded, sequence_feature
from ..metrics import cmrc_scores
from ..registry import TaskKind, register_kind
from ..rows import maybe_json
from ..task import F1, SPAN


class SpanKind(TaskKind):
    name = SPAN
    user_names = {"span": True}
    main_metric = F1
    head = "ForQuestionAnswering"
    target_keys = ("start_positions", "end_positions")

    def needed_fields(self, settings) -> list[str]:
        return [settings.context_field, settings.question_field]

    def label_field(self, settings) -> str:
        return settings.answers_field

    def read_file(self, path: Path, split, settings) -> bool:
        """A whole-file SQuAD / CMRC 2018 document (``{"data": [...]}``) rather than JSON lines."""
        if path.suffix != ".json" or not _is_squad_document(path):
            return False
        read_cmrc([path], split, split.labelled, training=split.name == "train")
        return True

    def read_example(self, row, where, index, settings, context) -> SpanExample:
        s = settings
        text = text_field(row, s.context_field, where, allow_empty=False)
        question = text_field(row, s.question_field, where, allow_empty=False)
        answers, start = [], None
        if context.labelled:
            answers, starts = _answers(maybe_json(row.get(s.answers_field)), where, s.answers_field)
            if context.training:
                start = check_span_answer(text, answers[0], starts[0] if starts else None, where)
        return SpanExample(str(row_id(row, index)), question, text, answers, start)

    def encode(self, encoder, chunk: list[SpanExample], start: int, train: bool, out: Encoded) -> None:
        for sample, w, enc in _windows(encoder, chunk):
            feature = sequence_feature(enc, w, encoder.with_pinyin)
            offsets = np.asarray(enc["offset_mapping"][w], dtype=np.int64).reshape(-1, 2)  # (T, 2)
            in_context = (feature["token_type_ids"] == 1) & (offsets[:, 1] > offsets[:, 0])
            context_offsets = np.where(in_context[:, None], offsets, NO_OFFSET)
            if train:
                begin, end = answer_tokens(context_offsets, chunk[sample])
                feature["start_positions"] = np.asarray(begin, dtype=np.int64)
                feature["end_positions"] = np.asarray(end, dtype=np.int64)
            out.features.append(feature)
            out.owners.append(start + sample)
            out.context_offsets.append(context_offsets)

    def make_head(self, hidden: int, num_labels: int):
        return "qa_outputs", nn.Linear(hidden, 2)

    def head_forward(self, model, inputs: dict, targets: dict):
        start, end = model.qa_outputs(model.states(**inputs)).split(1, dim=-1)  # (B, T, 1) each
        start, end = start.squeeze(-1).contiguous(), end.squeeze(-1).contiguous()  # (B, T)
        loss = span_loss(start, end, targets.get("start_positions"), targets.get("end_positions"))
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start, end_logits=end)

    def numpy_outputs(self, output) -> tuple:
        return output.start_logits.float().numpy(), output.end_logits.float().numpy()

    def decode(self, task, output, encoded, examples, settings) -> dict[str, str]:
        start_logits, end_logits = output
        return decode_spans(start_logits, end_logits, encoded, examples, settings)

    def metrics(self, task, examples, predicted) -> dict:
        return cmrc_scores(predicted, {e.uid: e.answers for e in examples})

    def prediction_of(self, predicted, index, example) -> str:
        return predicted[example.uid]  # decode keys answers by question id

    def prediction_row(self, task, example, predicted) -> dict:
        return {"id": example.uid, "answer": predicted}


def _answers(raw, where: str, field_name: str) -> tuple[list[str], list]:
    """Answer texts and starts of ``{"text": [...], "answer_start": [...]}`` or a list of answer objects."""
    if isinstance(raw, dict):
        texts, starts = strings_field(raw.get("text"), f"{field_name}.text", where), raw.get("answer_start")
        starts = starts if isinstance(starts, list) else [starts]
    elif isinstance(raw, list) and raw and all(isinstance(a, dict) for a in raw):
        texts = [text_field(a, "text", f"{where}: {field_name}") for a in raw]
        starts = [a.get("answer_start") for a in raw]
    else:
        raise DataError(f"{where}: missing field '{field_name}' ({{text, answer_start}} lists or objects)")
    if not texts:
        raise DataError(f"{where}: field '{field_name}' is empty")
    return texts, starts


def _is_squad_document(path: Path) -> bool:
    try:
        document = load_json(path)
    except DataError:
        return False  # JSON lines
    return isinstance(document, dict) and "data" in document


def _windows(encoder, chunk: list[SpanExample]):
    """(example, window, encoding) of each window: the question cut to ``max_query_length`` characters, the
    context in overlapping windows sharing ``stride`` tokens."""
    hp = encoder.hp
    query_chars = max(1, min(hp.max_query_length, hp.max_length // 2 - PAIR_SPECIAL_TOKENS))
    questions = [e.question.strip()[:query_chars] for e in chunk]
    room = hp.max_length - PAIR_SPECIAL_TOKENS - max(len(q) for q in questions)
    if room < 2:
        raise ValueError(f"max_length={hp.max_length} leaves no room for the context; raise it")
    enc = encoder.tokenizer(
        questions,
        [e.context for e in chunk],
        truncation="only_second",
        max_length=hp.max_length,
        stride=max(0, min(hp.stride, room // 2)),
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    for w, sample in enumerate(enc["overflow_to_sample_mapping"]):
        yield int(sample), w, enc


def answer_tokens(context_offsets: np.ndarray, example: SpanExample) -> tuple[int, int]:
    """Start and end token of the answer in one window; (0, 0), the [CLS] token, when it is not inside."""
    begin_char = example.answer_start
    end_char = begin_char + len(example.answers[0])  # exclusive
    inside = np.flatnonzero(context_offsets[:, 0] >= 0)
    if not len(inside):
        return 0, 0
    window_begin, window_end = context_offsets[inside[0], 0], context_offsets[inside[-1], 1]
    if begin_char < window_begin or end_char > window_end:
        return 0, 0
    starts = inside[context_offsets[inside, 1] > begin_char]  # tokens ending after the answer's start
    ends = inside[context_offsets[inside, 0] < end_char]  # tokens starting before the answer's end
    if not len(starts) or not len(ends):
        return 0, 0
    return int(starts[0]), int(ends[-1])


def decode_spans(
    start_logits: np.ndarray, end_logits: np.ndarray, encoded: Encoded, examples: list[SpanExample], hp
) -> dict[str, str]:
    """``{qid: answer}``: over all windows of a question, the context span with the highest start + end score
    (end not before start, at most ``max_answer_length`` tokens); an empty answer when no window has one."""
    best: dict[int, tuple[float, str]] = {}
    for f, owner in enumerate(encoded.owners):
        offsets = encoded.context_offsets[f]
        length = len(offsets)
        starts, ends = np.asarray(start_logits[f][:length]), np.asarray(end_logits[f][:length])
        inside = np.flatnonzero(offsets[:, 0] >= 0)
        if not len(inside):
            continue
        top_starts = inside[np.argsort(-starts[inside], kind="stable")[: hp.n_best]]
        top_ends = inside[np.argsort(-ends[inside], kind="stable")[: hp.n_best]]
        context = examples[owner].context
        for s in top_starts:
            for e in top_ends:
                if e < s or e - s + 1 > hp.max_answer_length:
                    continue
                score = float(starts[s] + ends[e])
                if owner not in best or score > best[owner][0]:
                    best[owner] = (score, context[offsets[s, 0] : offsets[e, 1]])
    return {example.uid: best[i][1] if i in best else "" for i, example in enumerate(examples)}


register_kind(SpanKind())
