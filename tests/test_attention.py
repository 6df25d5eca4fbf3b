"""Attention views: what the hooks capture equals the model's own attention, the pages are self-contained and
draw in a real browser, the figures carry CJK labels, and the quick-start notebook runs."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest
import torch
from conftest import PROJECT_ROOT, TINY_CHARS, save_tiny_glycebert, write_tiny_vocab

from chinese_ptm.attention import attention_view, capture_attention
from chinese_ptm.errors import UserError

TEXT, PAIR = "银行行长了解", "我们去北京"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny")
    write_tiny_vocab(directory, "们去走")
    tokens = (directory / "vocab.txt").read_text(encoding="utf-8").split()
    save_tiny_glycebert(directory, tokens, positions=32)
    from chinese_ptm.modeling import GlyceBertForMaskedLM

    model = GlyceBertForMaskedLM.from_pretrained(directory)
    torch.manual_seed(1)
    with torch.no_grad():  # as after training: every branch feeds the fusion, attention far from uniform
        for name, weight in model.named_parameters():
            if name.endswith(("map_fc.weight", "query.weight", "key.weight")):
                weight.normal_(0.0, 0.3)
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    from transformers import BertConfig, BertForMaskedLM

    directory = tmp_path_factory.mktemp("bert")
    write_tiny_vocab(directory, "们去走")
    tokens = (directory / "vocab.txt").read_text(encoding="utf-8").split()
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokens),
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=32,
    )
    BertForMaskedLM(config).save_pretrained(directory)
    return directory


def _load(directory):
    from chinese_ptm.runtime.loading import load_encoder

    return load_encoder(directory)


def test_hooks_capture_the_models_own_attention_and_restore_it(tiny_dir):
    model, tokenizer = _load(tiny_dir)
    assert model.config._attn_implementation == "sdpa"
    capture = capture_attention(model, tokenizer, TEXT)
    assert model.config._attn_implementation == "sdpa"  # switched back after the call
    assert all(not m._forward_hooks for m in model.modules())  # no hook left behind
    inputs = tokenizer(TEXT, return_tensors="pt")
    model.set_attn_implementation("eager")
    with torch.no_grad():
        expected = model(**inputs, output_attentions=True).attentions
    assert capture.attention.shape == (2, 2, len(inputs["input_ids"][0]), len(inputs["input_ids"][0]))
    np.testing.assert_allclose(capture.attention, np.stack([a[0].numpy() for a in expected]), atol=1e-6)
    # the neuron view's vectors are the ones behind the weights: softmax(q.k / sqrt(d)) gives them back
    scores = np.einsum("lhqd,lhkd->lhqk", capture.queries, capture.keys) / np.sqrt(capture.queries.shape[-1])
    softmax = np.exp(scores - scores.max(-1, keepdims=True))
    np.testing.assert_allclose(softmax / softmax.sum(-1, keepdims=True), capture.attention, atol=1e-5)
    assert capture.labels()[1:4] == ["银 yin2", "行 hang2", "行 hang2"]


def test_bert_checkpoints_get_readings_and_no_branch_comparison(bert_dir):
    model, tokenizer = _load(bert_dir)
    capture = capture_attention(model, tokenizer, "银行行长", "去行走")
    assert capture.attention.shape[:2] == (3, 4)
    labels = capture.labels()
    assert labels[:5] == ["[CLS]", "银 yin2", "行 hang2", "行 hang2", "长 zhang3"]
    assert capture.pair_start == 6 and labels[6:9] == ["去 qu4", "行 xing2", "走 zou3"]
    with pytest.raises(UserError, match="no pinyin branch"):
        capture_attention(model, tokenizer, "银行", compare_without=("pinyin",))


def test_switching_off_a_branch_changes_attention_only_while_switched_off(tiny_dir):
    model, tokenizer = _load(tiny_dir)
    view = attention_view(model, tokenizer, TEXT, compare_without=["pinyin", "glyph"])
    for branch in ("pinyin", "glyph"):
        without = view.capture.without[branch]
        assert without.shape == view.capture.attention.shape and not np.allclose(without, view.capture.attention)
        (_, _, share), *rest = view.most_changed(branch)
        assert 0 < share <= 1 and all(share >= s for _, _, s in rest)
    again = capture_attention(model, tokenizer, TEXT)
    np.testing.assert_allclose(again.attention, view.capture.attention, atol=1e-6)


def test_bad_input_names_the_argument_and_the_range(tiny_dir):
    model, tokenizer = _load(tiny_dir)
    with pytest.raises(UserError, match="TEXT: empty"):
        attention_view(model, tokenizer, "   ")
    with pytest.raises(UserError, match=r"--layer 2: out of range; this model has 2 \(0 to 1\)"):
        attention_view(model, tokenizer, TEXT, layer=2)
    with pytest.raises(UserError, match=r"--head -1: out of range"):
        attention_view(model, tokenizer, TEXT, head=-1)
    long = attention_view(model, tokenizer, TINY_CHARS * 3)  # more tokens than the 32 positions
    assert long.capture.truncated and len(long.capture.tokens) == 32
    assert "cut to the model's 32 positions" in long.html()


def test_page_is_self_contained_and_keeps_bertvizs_data_layout(tiny_dir):
    view = attention_view(str(tiny_dir), None, TEXT, PAIR, layer=1, head=0, compare_without=["pinyin"])
    page = view.html()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)  # nothing loaded from anywhere
    assert "cdn" not in page.lower() and "require(" not in page
    assert "url(data:font/woff;base64," in page  # the page's characters come with it
    data = json.loads(re.search(r'id="attention-data">(.*?)</script>', page, re.DOTALL).group(1).replace("<\\/", "</"))
    entry = data["attention"]["all"]
    tokens = len(view.capture.tokens)
    assert np.array(entry["attn"]).shape == (2, 2, tokens, tokens) and entry["left_text"] == view.capture.labels()
    assert np.array(entry["queries"]).shape == np.array(entry["keys"]).shape == (2, 2, tokens, 16)
    assert (data["layer"], data["head"], data["pair_start"]) == (1, 0, 8)
    assert set(data["without"]) == {"pinyin"}
    frame = view._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and html.unescape(frame.split('"')[1]) == page
    assert "queries" not in json.dumps(attention_view(str(tiny_dir), None, TEXT, neuron=False).data())


def test_big_models_keep_the_vectors_of_the_opening_layer_only(tiny_dir, monkeypatch):
    from chinese_ptm.attention import view as view_module

    monkeypatch.setattr(view_module, "NEURON_VALUES", 100)
    data = attention_view(str(tiny_dir), None, TEXT, layer=1).data()
    queries = data["attention"]["all"]["queries"]
    assert data["neuron_layers"] == [1] and queries[0] is None and np.array(queries[1]).shape[0] == 2


def _chromium():
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.skipif(_chromium() is None, reason="no chromium on this machine (apt-get install chromium)")
def test_page_draws_in_headless_chromium_without_script_errors(tiny_dir, tmp_path):
    view = attention_view(str(tiny_dir), None, TEXT, PAIR, compare_without=["pinyin", "glyph"])
    page = view.save(tmp_path / "view.html")
    common = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]
    dom = subprocess.run(
        common + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    body = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', re.search(r"<body[^>]*>", dom).group(0)))
    tokens, layers, heads = len(view.capture.tokens), view.capture.layers, view.capture.heads
    assert body["ready"] == "1" and body["errors"] == "0"
    assert int(body["token-labels"]) == 2 * tokens  # both columns of the head view
    opening = np.round(view.capture.attention[0].astype(np.float64), 3)
    assert int(body["lines"]) == int((opening >= 0.01).sum()) > tokens  # every visible line of every head
    assert int(body["model-cells"]) == layers * heads and int(body["neuron-rows"]) == tokens
    shot = tmp_path / "view.png"
    subprocess.run(
        common + ["--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
        check=True,
    )
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.shape == (1600, 1200) and pixels.std() > 10  # drawn, not a blank page


def test_png_draws_cjk_labels_with_the_shipped_font(tiny_dir, tmp_path):
    from PIL import Image

    from chinese_ptm.attention.figure import label_font

    view = attention_view(str(tiny_dir), None, TEXT, layer=1)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font.*")  # matplotlib's warning for a tofu box
        grid = view.png(tmp_path / "grid.png", grid=True)
        layer = view.png(tmp_path / "layer.png")
    for path in (grid, layer):
        pixels = np.asarray(Image.open(path).convert("L"))
        assert pixels.ndim == 2 and pixels.min() < 100 and pixels.std() > 10
    assert Image.open(grid).size[1] > Image.open(layer).size[1]  # two rows of maps against one
    from fontTools.ttLib import TTFont

    cmap = TTFont(label_font().get_file()).getBestCmap()
    assert all(ord(c) in cmap for c in TEXT)


def test_command_writes_the_page_and_the_figure(tiny_dir, tmp_path, capsys):
    from chinese_ptm import cli

    out, png = tmp_path / "v.html", tmp_path / "v.png"
    status = cli.main(
        [
            "attention",
            str(tiny_dir),
            TEXT,
            "--pair",
            PAIR,
            "--out",
            str(out),
            "--png",
            str(png),
            "--compare-without-pinyin",
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0 and out.is_file() and png.is_file()
    assert "行 hang2" in printed and "without pinyin, the heads that change most" in printed
    assert cli.main(["attention", str(tiny_dir), TEXT, "--head", "7"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "chinese-ptm attention: error: --head 7: out of range; this model has 2 (0 to 1)"
    )


@pytest.mark.slow
def test_quickstart_notebook_runs_on_a_tiny_model(tiny_dir, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    notebook = nbformat.read(PROJECT_ROOT / "examples" / "quickstart.ipynb", as_version=4)
    notebook.cells.insert(
        0,
        nbformat.v4.new_code_cell(
            f"import os; os.environ['CHINESE_PTM_MODEL'] = {str(tiny_dir)!r}; "
            f"os.environ['CHINESE_PTM_WORK'] = {str(tmp_path / 'work')!r}"
        ),
    )
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("<iframe srcdoc=" in o.get("data", {}).get("text/html", "") for o in outputs)  # the view inline
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the glyph sheet
    assert (tmp_path / "work" / "attention.png").is_file() and (
        tmp_path / "work" / "reviews" / "results.json"
    ).is_file()


@pytest.mark.parametrize("text", ["你好", TEXT, TEXT * 3])
def test_grid_titles_never_overlap_the_row_above(tiny_dir, tmp_path, monkeypatch, text):
    """Each map's title (and the figure's) stays clear of every label and map of the row above it."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    drawn = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (drawn.append(self), save(self, *a, **k))[1])
    attention_view(str(tiny_dir), None, text, title=text).png(tmp_path / "grid.png", grid=True)
    (figure,) = drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(figure).get_renderer()  # the figure was closed after saving: a canvas again
    axes = [a for a in figure.axes if a.get_visible() and a.has_data()]
    rows = sorted({round(a.get_position().y0, 4) for a in axes}, reverse=True)
    for upper, lower in zip(rows, rows[1:]):
        above = [a.get_tightbbox(renderer) for a in axes if round(a.get_position().y0, 4) == upper]
        for axis in (a for a in axes if round(a.get_position().y0, 4) == lower):
            title = axis.title.get_window_extent(renderer)
            assert not any(title.overlaps(box) for box in above), axis.get_title()
    heading = figure._suptitle.get_window_extent(renderer)
    assert not any(heading.overlaps(axis.title.get_window_extent(renderer)) for axis in axes)
