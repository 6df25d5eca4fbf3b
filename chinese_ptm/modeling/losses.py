"""Every loss the heads compute, in one place: GlyceBERT's heads, the fine-tuning task models, prompts and the
pretraining objectives call these. Logits are cast to float32 before the loss (bf16/fp16 training would otherwise
compute the softmax in half precision); labels of -100 are ignored where a head labels only some positions."""

from __future__ import annotations

from typing import Literal, overload

import torch
import torch.nn.functional as F

#: the label of a position without a target, as PyTorch's cross-entropy defines it (-100)
IGNORE_INDEX = torch.nn.CrossEntropyLoss().ignore_index
#: the outputs a task model predicts with (a span model: its start and end logits; any other: its logits)
PREDICTIONS = ("logits", "start_logits", "end_logits")

#: what ``config.problem_type`` may say (transformers' values)
ProblemType = Literal["regression", "single_label_classification", "multi_label_classification"]


def infer_problem_type(num_labels: int, labels: torch.Tensor) -> ProblemType:
    """transformers' rule for a sequence head without ``config.problem_type``."""
    if num_labels == 1:
        return "regression"
    if labels.dtype in (torch.long, torch.int):
        return "single_label_classification"
    return "multi_label_classification"


def sequence_loss(logits: torch.Tensor, labels: torch.Tensor | None, problem_type: str | None) -> torch.Tensor | None:
    """Sequence heads: MSE (regression), cross-entropy (single label) or BCE with logits (multi-label).
    ``logits`` (B, K); ``labels`` (B,) or (B, K)."""
    if labels is None:
        return None
    problem_type = problem_type or infer_problem_type(logits.shape[-1], labels)
    if problem_type == "regression":
        if logits.shape[-1] == 1:  # (B, 1) -> (B,)
            return F.mse_loss(logits.squeeze(-1).float(), labels.reshape(-1).float())
        return F.mse_loss(logits.float(), labels.float())
    if problem_type == "multi_label_classification":
        return F.binary_cross_entropy_with_logits(logits.float(), labels.float())
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1))


@overload
def token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor: ...
@overload
def token_loss(logits: torch.Tensor, labels: None) -> None: ...
@overload
def token_loss(logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None: ...
def token_loss(logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
    """Tagging and MLM: cross-entropy over every labelled position. ``logits`` (..., K); ``labels`` (...)."""
    if labels is None:
        return None
    flat = logits.reshape(-1, logits.shape[-1]).float()  # (..., K) -> (N, K)
    return F.cross_entropy(flat, labels.reshape(-1), ignore_index=IGNORE_INDEX)


def choice_loss(logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
    """Multiple choice and prompt scores: cross-entropy over the choices. ``logits`` (B, C)."""
    return F.cross_entropy(logits.float(), labels.reshape(-1)) if labels is not None else None


def span_loss(
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    start_positions: torch.Tensor | None,
    end_positions: torch.Tensor | None,
) -> torch.Tensor | None:
    """Extractive QA: mean of the start and end cross-entropies (B, T); a position outside the input clamps to T
    and is ignored."""
    if start_positions is None or end_positions is None:
        return None
    ignored = start_logits.shape[1]
    start = start_positions.reshape(-1).clamp(0, ignored)  # (B,)
    end = end_positions.reshape(-1).clamp(0, ignored)  # (B,)
    return (
        F.cross_entropy(start_logits.float(), start, ignore_index=ignored)
        + F.cross_entropy(end_logits.float(), end, ignore_index=ignored)
    ) / 2


def detection_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Binary decisions per position (spelling-error detection, ELECTRA's replaced tokens): BCE with logits."""
    return F.binary_cross_entropy_with_logits(logits.float(), targets.float())
