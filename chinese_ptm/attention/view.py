"""Attention views as one self-contained HTML page: head view, model view, neuron view and, for GlyceBERT,
the difference a switched-off pinyin or glyph branch makes. Also inline in Jupyter and as PNG figures.

The page's data keeps bertviz's layout (``attention.all`` with ``attn`` [layer][head][query][key],
``left_text``/``right_text``, ``queries``/``keys`` for the neuron view) so it can be fed to bertviz's own
views; the views themselves are ours (``attention/assets/view.js``, plain JavaScript): bertviz's load
require.js, d3 and jQuery from a CDN and show a blank page offline. The characters on the page are drawn with
a subset of the shipped sans font embedded in the page, so no machine shows boxes for them.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from ..resources import fonts_dir
from ..runtime.loading import load_encoder
from .capture import AttentionCapture, capture_attention
from .figure import draw_attention

#: the page's script and style (package data of this subpackage)
ASSETS = Path(__file__).with_name("assets")

#: decimals kept in the page: weights are read as colours, opacities and 3-decimal numbers, vectors as colours
WEIGHT_DECIMALS, VECTOR_DECIMALS = 3, 2
#: query and key numbers a page holds for all layers (about 4 MB); beyond, the opening layer's only
NEURON_VALUES = 800_000
#: the embedded font (a subset of it: the page's own characters)
PAGE_FONT = "ptm-sans-sc.otf"


def changed_share(attention: np.ndarray, without: np.ndarray) -> np.ndarray:
    """(L, H): how much of each head's attention moves when a branch is switched off, from 0 (none) to 1
    (all): half the L1 distance between the two distributions of a query, averaged over the queries."""
    return 0.5 * np.abs(attention - without).sum(axis=-1).mean(axis=-1)


class AttentionView:
    """A captured forward pass and its views: ``html()``, ``save(path)``, ``png(path)``; shown inline by
    Jupyter (``display(view)`` or a cell ending in the view)."""

    def __init__(
        self,
        capture: AttentionCapture,
        title: str = "",
        layer: int | None = None,
        head: int | None = None,
        neuron: bool = True,
    ):
        capture.check_position(layer, head)
        self.capture, self.title, self.layer, self.head, self.neuron = capture, title, layer, head, neuron

    def data(self) -> dict:
        c = self.capture
        labels = c.labels()
        entry = {"attn": _rounded(c.attention, WEIGHT_DECIMALS), "left_text": labels, "right_text": labels}
        layers = self.neuron_layers()
        if layers:
            entry["queries"] = [
                _rounded(c.queries[l], VECTOR_DECIMALS) if l in layers else None for l in range(c.layers)
            ]
            entry["keys"] = [_rounded(c.keys[l], VECTOR_DECIMALS) if l in layers else None for l in range(c.layers)]
        without = {
            branch: {"attn": _rounded(w, WEIGHT_DECIMALS), "changed": _rounded(changed_share(c.attention, w), 4)}
            for branch, w in c.without.items()
        }
        return {
            "attention": {"all": entry},
            "bidirectional": True,
            "default_filter": "all",
            "tokens": c.tokens,
            "readings": c.readings,
            "pair_start": c.pair_start,
            "truncated": c.truncated,
            "layer": self.layer or 0,
            "head": self.head,
            "without": without,
            "neuron_layers": layers,
        }

    def neuron_layers(self) -> list[int]:
        """The layers whose query and key vectors the page holds: all while they stay under
        ``NEURON_VALUES`` numbers, else the layer the view opens on."""
        if not self.neuron:
            return []
        c = self.capture
        if c.queries.size * 2 <= NEURON_VALUES:
            return list(range(c.layers))
        return [self.layer or 0]

    def most_changed(self, branch: str, count: int = 5) -> list[tuple[int, int, float]]:
        """The heads whose attention moves most without ``branch``: (layer, head, share), largest first."""
        share = changed_share(self.capture.attention, self.capture.without[branch])
        order = np.argsort(-share, axis=None)[:count]
        return [(int(i // share.shape[1]), int(i % share.shape[1]), float(share.flat[i])) for i in order]

    def html(self) -> str:
        c = self.capture
        payload = json.dumps(self.data(), ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        text = "".join(c.tokens) + "".join(r or "" for r in c.readings)
        note = f'<p class="warn">The text was cut to the model\'s {len(c.tokens)} positions.</p>' if c.truncated else ""
        sections = [_section("head-view", "Head view", HEAD_VIEW), _section("model-view", "Model view", MODEL_VIEW)]
        if self.neuron:
            sections.append(_section("neuron-view", "Neuron view", NEURON_VIEW))
        for branch in c.without:
            sections.append(_section(f"diff-{branch}", f"Without {branch}", DIFF_VIEW.format(branch=branch)))
        nav = " ".join(f'<a href="#{s[0]}">{s[1]}</a>' for s in sections)
        return PAGE.format(
            title=html.escape(self.title or "attention"),
            font=_font_face(text + PAGE_TEXT),
            css=_asset("view.css"),
            meta=html.escape(f"{c.layers} layers x {c.heads} heads, {len(c.tokens)} tokens"),
            note=note,
            nav=nav,
            sections="".join(s[2] for s in sections),
            data=payload,
            script=_asset("view.js"),
        )

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.html(), encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        # an iframe keeps the page's script and styles to itself inside a notebook and runs in every front end
        return (
            f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" style="width:100%;height:720px;'
            'border:1px solid #ddd" sandbox="allow-scripts"></iframe>'
        )

    def png(self, path: str | Path, grid: bool | None = None) -> Path:
        """Attention maps with matplotlib: one layer's heads (the view's layer), or the layers x heads grid
        (``grid=True``; the default when no layer was chosen)."""

        return draw_attention(
            self.capture,
            Path(path),
            layer=None if grid or (grid is None and self.layer is None) else (self.layer or 0),
            title=self.title,
        )


def attention_view(
    model,
    tokenizer,
    text: str,
    text_pair: str | None = None,
    *,
    layer: int | None = None,
    head: int | None = None,
    compare_without: tuple[str, ...] | list[str] = (),
    neuron: bool = True,
    title: str | None = None,
) -> AttentionView:
    """Capture ``model`` on ``text`` (and ``text_pair``) and return its views. ``model`` may be a checkpoint
    directory (GlyceBERT, BERT, the original ChineseBERT release, Chinese BERT); then ``tokenizer`` may be None."""
    if isinstance(model, (str, Path)):
        model, loaded = load_encoder(model)
        tokenizer = tokenizer or loaded
    capture = capture_attention(model, tokenizer, text, text_pair, tuple(compare_without))
    heading = title or (text if text_pair is None else f"{text} / {text_pair}")
    return AttentionView(capture, heading, layer, head, neuron)


def _rounded(values: np.ndarray, decimals: int) -> list:
    """Nested lists of short numbers (float32 values would print with 17 digits: 0.03119999915361404)."""
    return np.round(values.astype(np.float64), decimals).tolist()


def _section(anchor: str, heading: str, body: str) -> tuple[str, str, str]:
    return anchor, heading, f'<section id="{anchor}"><h2>{heading}</h2>{body}</section>'


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _font_face(text: str) -> str:
    """An @font-face rule with a WOFF subset of the shipped sans font holding just ``text``'s characters."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(fonts_dir() / PAGE_FONT), recalcTimestamp=False)  # same text, same bytes
    subsetter = subset.Subsetter(subset.Options(layout_features=[], name_IDs=["*"], notdef_outline=True))
    subsetter.populate(text=text)
    subsetter.subset(font)
    font.flavor = "woff"
    buffer = io.BytesIO()
    font.save(buffer)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'@font-face{{font-family:"PTM Sans";src:url(data:font/woff;base64,{encoded}) format("woff")}}'


PAGE_TEXT = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ[]()·×√/.,:- "
PAGE = """<!DOCTYPE html>
<html lang="zh"><head><meta charset="utf-8"><title>{title}</title>
<style>{font}
{css}</style></head>
<body><h1>{title}</h1><p class="meta">{meta}</p>{note}<nav>{nav}</nav>
{sections}
<script type="application/json" id="attention-data">{data}</script>
<script>{script}</script></body></html>
"""
HEAD_VIEW = """<div class="controls"><label>Layer <select id="hv-layer"></select></label>
<span>Heads <span id="hv-heads"></span></span></div>
<p class="legend">Lines from each token (left) to the tokens it attends to (right), one colour per head, opacity =
weight. Point at a token on the left to see only its lines; click a colour to hide or show a head,
double-click for that head alone.</p><svg id="hv-svg" width="620" xmlns="http://www.w3.org/2000/svg"></svg>"""
MODEL_VIEW = """<p class="legend">Every layer (rows) and head (columns): row = attending token, column = attended
token, darker = more weight. Click a map to open it in the head and neuron views.</p><div class="grid" id="mv-grid"></div>"""
NEURON_VIEW = """<div class="controls"><label>Layer <select id="nv-layer"></select></label>
<label>Head <select id="nv-head"></select></label></div>
<div class="query-pick" id="nv-query"></div><p class="warn" id="nv-note"></p>
<p class="legend">The query vector of the chosen token, each key vector, their elementwise product (blue
positive, red negative), the scaled score q·k/√d and the weight after softmax.</p><table class="neuron" id="nv-table"></table>"""
DIFF_VIEW = """<p class="legend">Attention minus attention with the {branch} branch switched off (its embedding
replaced by zeros), per layer and head: blue = more weight with {branch}, red = less. "changed": the share of
the head's attention that moves (0 to 1).</p><div class="grid" id="dv-{branch}"></div>"""
