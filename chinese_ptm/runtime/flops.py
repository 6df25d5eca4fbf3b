"""Model FLOPs utilisation (MFU): the share of the accelerator's peak that a training run turns into model
arithmetic. The count is the usual one for transformers (PaLM, appendix B): a token costs 6 N FLOPs for the
matrix multiplications of its forward and backward passes (N: the parameters used per token, embedding tables
excluded, since a lookup does no arithmetic) plus 12 L H T for attention scores and their weighting (L layers,
width H, sequence length T). Tokens are the non-padding tokens the run trained on.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: dense bf16 peak FLOP/s of the accelerators this is run on (vendor figures, without sparsity)
PEAK_BF16_FLOPS = {
    "H100": 989e12,
    "H200": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "A10": 125e12,
    "V100": 125e12,  # fp16 tensor cores
    "RTX 4090": 165e12,
}


def matmul_parameters(model: nn.Module) -> int:
    """Parameters a token passes through in matrix multiplications: every parameter but embedding tables (word,
    position, token type, pinyin symbols) and glyph bitmaps, which are looked up."""
    looked_up = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    looked_up |= {id(b) for name, b in model.named_buffers() if "glyph" in name}
    return sum(p.numel() for p in model.parameters() if id(p) not in looked_up)


def training_flops_per_token(model: nn.Module, seq_len: int) -> float:
    """6 N + 12 L H T (forward and backward of one token at sequence length ``seq_len``)."""
    config: Any = model.config  # a transformers model's config (nn.Module declares no such attribute)
    layers, width = config.num_hidden_layers, config.hidden_size
    return 6.0 * matmul_parameters(model) + 12.0 * layers * width * seq_len


def peak_flops(device: torch.device | None = None) -> float | None:
    """The bf16 peak of this process's GPU, or None (a CPU, or a GPU not in the table: no MFU is reported)."""
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_FLOPS.items() if key in name), None)


def mfu(tokens_per_s: float, flops_per_token: float, devices: int = 1, peak: float | None = None) -> float | None:
    """Model FLOPs utilisation of ``devices`` accelerators (None where the peak is unknown)."""
    peak = peak if peak is not None else peak_flops()
    if not peak:
        return None
    return tokens_per_s * flops_per_token / (peak * devices)
