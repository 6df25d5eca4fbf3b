"""Attention maps as a static figure (matplotlib, Agg): one layer's heads, or the grid of layers x heads.
Token labels are drawn with the shipped sans font, so CJK characters never come out as boxes."""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import UserError
from ..resources import fonts_dir
from .capture import AttentionCapture

LABEL_FONT = "ptm-sans-sc.otf"
COLUMNS = 4  # heads per row when one layer is drawn


def label_font():
    from matplotlib.font_manager import FontProperties

    return FontProperties(fname=str(fonts_dir() / LABEL_FONT))


def draw_attention(capture: AttentionCapture, path: Path, layer: int | None = None, title: str = "") -> Path:
    """Write ``path`` (PNG): the heads of ``layer``, or every layer and head when ``layer`` is None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("--png needs matplotlib: pip install 'chinese_ptm[plots]'") from None
    capture.check_position(layer, None)
    cells = (
        [(layer, h) for h in range(capture.heads)]
        if layer is not None
        else [(l, h) for l in range(capture.layers) for h in range(capture.heads)]
    )
    columns = min(COLUMNS, capture.heads) if layer is not None else capture.heads
    rows = math.ceil(len(cells) / columns)
    size = max(1.6, min(4.0, 0.28 * len(capture.tokens)))
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns + 1, size * rows + 1), squeeze=False)
    font, labels = label_font(), capture.labels()
    for index, axis in enumerate(axes.flat):
        if index >= len(cells):
            axis.axis("off")
            continue
        l, h = cells[index]
        _draw_map(
            axis,
            capture.attention[l, h],
            labels,
            font,
            f"layer {l}, head {h}",
            left=index % columns == 0,
            bottom=index // columns == rows - 1 or layer is not None,
        )
    if title:
        figure.suptitle(title, fontproperties=font)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _draw_map(axis, weights, labels: list[str], font, caption: str, left: bool, bottom: bool) -> None:
    axis.imshow(weights, cmap="Blues", vmin=0.0, vmax=max(float(weights.max()), 1e-6))
    axis.set_title(caption, fontsize=9)
    ticks = range(len(labels))
    axis.set_xticks(ticks, labels if bottom else [""] * len(labels), rotation=90, fontproperties=font, fontsize=7)
    axis.set_yticks(ticks, labels if left else [""] * len(labels), fontproperties=font, fontsize=7)
