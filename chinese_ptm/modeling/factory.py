"""The model a pretraining recipe describes: GlyceBERT or BERT, with ALBERT's options (factorised embedding,
shared layers) and ELECTRA's objective on either trunk; from scratch or ``model.init_from`` a checkpoint.

On the BERT trunk the models are transformers' classes (BERT, ALBERT, ELECTRA's discriminator) with the MLM head
run only at masked positions; on GlyceBERT ours. Glyph tables come from the tokenizer's vocabulary folder or
``model.glyph_table``; ELECTRA's replaced tokens read their pinyin from each vocabulary entry's own reading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UserError
from ..glyph import load_glyph_table, table_for_vocab
from ..glyph.open import table_fonts
from ..resources import vocab_dir, word_vocab_dir
from ..text.tokenization import load_tokenizer
from ..text.two_views import TwoViewTokenizer
from . import bert_spelling, sparse_bert
from . import modeling_glycebert as glycebert_models
from .ambert import AMBERT_CLASSES, AmbertConfig, AmbertForPreTraining
from .bert_format import checkpoint_kind as weights_kind
from .bert_format import weight_files
from .bert_generation import BertPrefixLMHeadModel
from .configuration_glycebert import GlyceBertConfig
from .electra import ElectraForReplacedTokenDetection, GlyceBertForReplacedTokenDetection, token_pinyin_table
from .load_report import quiet_load_report, report_loading
from .modeling_glycebert import GlyceBertForMaskedLM, GlyceBertForPreTraining
from .sharing import with_shared_layers

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel

GLYCEBERT, CHINESEBERT, BERT = "glycebert", "chinesebert", "bert"
ALBERT, ELECTRA, AMBERT = "albert", "electra", "ambert"
#: checkpoints of transformers' own families (no pinyin), with their class-name prefix
TRANSFORMERS_KINDS = {BERT: "Bert", ALBERT: "Albert", ELECTRA: "Electra"}


#: transformers' BERT classes replaced by ours where a role needs more (generation: the prefix-LM mask)
OWN_BERT_CLASSES = {"BertLMHeadModel": BertPrefixLMHeadModel}


def reads_pinyin(kind: str) -> bool:
    """Whether a checkpoint of this kind takes pinyin_ids (GlyceBERT and the original ChineseBERT)."""
    return kind not in TRANSFORMERS_KINDS


def model_class(kind: str, suffix: str):
    """The class for a checkpoint kind and a role: ``suffix`` is ``Model``, ``ForMaskedLM``,
    ``ForSequenceClassification`` ...; transformers' class for BERT, ALBERT and ELECTRA (tying the layers an
    ALBERT-style ``config.share_layers`` names), GlyceBERT's for the rest."""
    if kind == AMBERT:
        cls = AMBERT_CLASSES.get(f"AutoModel{suffix}" if suffix != "Model" else "AutoModel")
        if cls is None:
            raise UserError(
                f"an AMBERT checkpoint has no {suffix} model: AMBERT fine-tunes classification, pairs and tagging"
            )
        return cls
    if reads_pinyin(kind):
        return getattr(glycebert_models, f"GlyceBert{suffix}")
    import transformers

    name = TRANSFORMERS_KINDS[kind] + suffix
    cls = OWN_BERT_CLASSES.get(name) or getattr(transformers, name, None) or getattr(bert_spelling, name, None)
    if cls is None:
        raise UserError(f"a {kind} checkpoint has no {suffix} model here; use a GlyceBERT or BERT checkpoint")
    return with_shared_layers(cls)


def checkpoint_kind(path: str | Path, option: str = "--model") -> str:
    """``glycebert`` (ours), ``chinesebert`` (original release), ``bert`` (Chinese BERT checkpoint), ``albert`` or
    ``electra`` (transformers' format: albert_zh and HFL's ELECTRA converted, ours on architecture bert).

    A ``model_type: bert`` directory is ChineseBERT when its weights hold glyph or pinyin embeddings, else a
    plain BERT checkpoint, whatever tokenizer files lie next to it.
    """
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{option} {path}: no such directory")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise UserError(f"{path}: no config.json; point {option} at a checkpoint directory")
    with open(config_file, encoding="utf-8") as handle:
        model_type = json.load(handle).get("model_type", BERT)
    check_weight_files(path)
    if model_type in (GLYCEBERT, ALBERT, ELECTRA, AMBERT):
        return model_type
    kind = weights_kind(path) if model_type == BERT else None
    if kind is None:
        raise UserError(
            f"{config_file}: model_type {model_type!r} is not supported; use a GlyceBERT, original "
            "ChineseBERT, Chinese BERT, ALBERT, ELECTRA or AMBERT checkpoint"
        )
    return kind


def check_weight_files(path: str | Path) -> None:
    """Stop with one line naming the file when a safetensors weight file of ``path`` is cut short or its header
    is unreadable (read from its header alone: the tensors' byte ranges must lie inside the file)."""
    try:
        files = weight_files(Path(path))
    except FileNotFoundError:
        return  # no weights at all: the loader says what is missing
    for f in files:
        if f.suffix == ".safetensors":
            problem = _safetensors_problem(f)
            if problem:
                raise UserError(f"{f}: {problem}; copy or save the model again")


def _safetensors_problem(f: Path) -> str | None:
    size = f.stat().st_size
    with open(f, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            return f"{size} bytes, too short for a safetensors file"
        header_bytes = int.from_bytes(head, "little")
        if header_bytes > size - 8:
            return "its header is unreadable (not a safetensors file, or corrupted)"
        try:
            header = json.loads(handle.read(header_bytes))
        except ValueError:
            return "its header is unreadable (not a safetensors file, or corrupted)"
    ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
    expected = 8 + header_bytes + max(ends, default=0)
    if size < expected:
        return f"{size} bytes where its header needs {expected} (truncated)"
    return None


def load_pretrained(cls, path: str | Path, **options):
    """``cls.from_pretrained(path, **options)``, saying in one line what the encoder lacked, if anything
    (:mod:`.load_report`); weights whose shapes do not fit the checkpoint's config.json stop with one line naming
    the directory, and so does a weight file cut short."""
    check_weight_files(path)
    want_info = options.pop("output_loading_info", False)
    try:
        with quiet_load_report():
            model, info = cls.from_pretrained(str(path), output_loading_info=True, **options)
    except RuntimeError as err:
        if "ignore_mismatched_sizes" not in str(err):
            raise
        raise UserError(
            f"{path}: its weights do not fit its config.json (tensor shapes differ): the config and the weights "
            "come from different models"
        ) from None
    report_loading(model, info, path)
    return (model, info) if want_info else model


def check_vocab_size(model, tokenizer, model_source: str, tokenizer_source: str) -> None:
    """A model whose embedding table has another size than the tokenizer's vocabulary would train and
    predict on ids that mean other tokens: stop, naming both."""
    model_size = model.config.vocab_size
    tokens = len(tokenizer)
    if model_size != tokens:
        raise UserError(
            f"vocabulary mismatch: the model {model_source} has vocab_size {model_size}, the tokenizer "
            f"{tokenizer_source} has {tokens} tokens; use the checkpoint's own tokenizer (a vocab.txt beside its "
            "weights, or model.tokenizer / --tokenizer pointing at it), or start from scratch with this tokenizer"
        )


def build_model(m, tokenizer, sentence_task: bool = False):
    """The model a recipe's ``model`` section ``m`` describes: GlyceBERT or BERT (ALBERT with ALBERT's options,
    ELECTRA with objective electra), a pretraining head with a sentence task, else MLM."""
    untied = _untied(m)
    if m.architecture == "bert":
        return _bert_trunk_model(m, tokenizer, sentence_task, untied)

    cls: type[glycebert_models.GlyceBertPreTrainedModel] = (
        GlyceBertForPreTraining if sentence_task else GlyceBertForMaskedLM
    )
    config_class: type[GlyceBertConfig] = GlyceBertConfig
    branches = dict(use_glyph=m.use_glyph, use_pinyin=m.use_pinyin, glyph_trainable=m.glyph_trainable)
    if m.architecture == AMBERT:
        cls, config_class = AmbertForPreTraining, AmbertConfig
        branches.update(_word_view(m, sentence_task))
    grown = bool(m.init_from) and checkpoint_kind(m.init_from, "model.init_from") == BERT
    if grown:  # the branches are new; the fusion starts as the BERT inside, or it would discard what BERT learnt
        branches.update(glyph_scale=m.glyph_scale, fusion_init="identity")
    if draws_open_glyphs(m) and (grown or not m.init_from):
        branches["open_glyph_fonts"] = table_fonts(m.glyph_table or table_for_vocab(_vocab_dir(tokenizer)))
    branches.update(_albert_options(m))
    if m.objective == "electra":
        cls = GlyceBertForReplacedTokenDetection
        branches.update(generator_size=m.generator_size, discriminator_weight=m.discriminator_weight)

    if m.init_from:
        model = load_pretrained(cls, m.init_from, attn_implementation=m.attn_implementation, **branches)
        check_vocab_size(model, tokenizer, m.init_from, _tokenizer_source(m))
        glyphs = model.base_model.embeddings.glyph_embeddings
        if glyphs is not None and not glyphs.embedding.weight.any():  # a BERT checkpoint brings no glyphs
            model.load_glyph_table(glyph_table(m, tokenizer))
        return _with_token_pinyin(model, tokenizer)
    table = glyph_table(m, tokenizer) if m.use_glyph else None
    config = config_class(
        vocab_size=len(tokenizer),
        max_position_embeddings=m.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        num_fonts=table.shape[1] if table is not None else 3,
        glyph_size=table.shape[2] if table is not None else 24,
        glyph_scale=m.glyph_scale,
        fusion_init=m.fusion_init,
        **untied,
        **branches,
        **m.dims(),
        **_dropouts(m),
    )
    config._attn_implementation = m.attn_implementation
    model = cls(config)
    if table is not None:
        model.load_glyph_table(table)
    return _with_token_pinyin(model, tokenizer)


def word_tokenizer(m):
    """AMBERT's word-view tokenizer: ``model.word_tokenizer``, else the bundled word vocabulary."""
    tokenizer = load_tokenizer(m.word_tokenizer or word_vocab_dir())
    if not getattr(tokenizer, "_cuts_words", False):
        raise UserError(
            f"model.word_tokenizer {m.word_tokenizer}: a character tokenizer; give a word vocabulary "
            "(chinese-ptm vocab build --granularity word)"
        )
    return tokenizer


def saved_tokenizer(m, tokenizer):
    """What a run saves beside its weights as the tokenizer: the run's, and for AMBERT the word view's with it."""
    return TwoViewTokenizer(tokenizer, word_tokenizer(m)) if m.architecture == AMBERT else tokenizer


def _word_view(m, sentence_task: bool) -> dict:
    """AMBERT's config fields of the word view; what AMBERT does not combine with is refused here."""
    if sentence_task or m.objective != "mlm" or m.embedding_size or m.share_layers != "none":
        raise UserError(
            "model.architecture ambert pretrains with MLM on both views only: no sentence task, objective mlm, "
            "no embedding_size or share_layers"
        )
    words = word_tokenizer(m)
    return {"word_vocab_size": len(words), "word_pad_token_id": words.pad_token_id}


def draws_open_glyphs(m) -> bool:
    """Whether the model of a recipe's ``model`` section draws open glyphs (its tokenizer then gives glyph_ids):
    a new GlyceBERT, or one grown from a BERT checkpoint, with its glyph branch and ``model.open_glyphs``; a
    GlyceBERT or ChineseBERT checkpoint keeps what its config says. Not with objective electra, whose replaced
    tokens carry no glyph ids."""
    if m.architecture != GLYCEBERT or not m.use_glyph or m.objective == "electra":
        return False
    if m.init_from and checkpoint_kind(m.init_from, "model.init_from") != BERT:
        config = json.loads((Path(m.init_from) / "config.json").read_text(encoding="utf-8"))
        return bool(config.get("open_glyph_fonts"))
    return bool(m.open_glyphs)


def glyph_table(m, tokenizer):
    """The glyph table of a new GlyceBERT: ``model.glyph_table``, else the tokenizer's vocabulary's (beside it, or
    the bundled one for the bundled vocabulary)."""
    table = load_glyph_table(m.glyph_table or table_for_vocab(_vocab_dir(tokenizer)))
    if table.shape[0] != len(tokenizer):
        raise UserError(
            f"glyph table has {table.shape[0]} rows, the tokenizer {len(tokenizer)} tokens: "
            "build a table for this vocab with `chinese-ptm glyphs build --vocab ...`"
        )
    return table


def _albert_options(m) -> dict:
    """ALBERT's options as config fields, only where the recipe sets them (a checkpoint keeps its own)."""
    options = {"embedding_size": m.embedding_size} if m.embedding_size else {}
    return options | ({"share_layers": m.share_layers} if m.share_layers != "none" else {})


def _untied(m) -> dict:
    """Config fields for ``model.tie_word_embeddings`` false: a new BERT or GlyceBERT with MLM only (ALBERT's
    factorised embedding, ELECTRA's generator, AMBERT's two views and layer sharing tie by design; a checkpoint
    keeps its own)."""
    if m.tie_word_embeddings:
        return {}
    if m.architecture == AMBERT or m.objective != "mlm" or m.embedding_size or m.share_layers != "none" or m.init_from:
        raise UserError(
            "model.tie_word_embeddings false: only for a new bert or glycebert with objective mlm; drop "
            "embedding_size, share_layers and init_from, or keep the decoder tied"
        )
    return {"tie_word_embeddings": False}


def _bert_trunk_model(m, tokenizer, pair: bool, untied: dict):
    """transformers' classes: BERT; ALBERT when the recipe asks for a factorised embedding or shared layers
    (``num_hidden_groups=1`` is ALBERT's own full sharing); ELECTRA's discriminator for objective electra."""
    from transformers import AlbertConfig, BertConfig, ElectraConfig

    albert = _albert_options(m)
    cls: type[PreTrainedModel]
    config_class: type[PretrainedConfig]
    if m.objective == "electra":
        cls, config_class = ElectraForReplacedTokenDetection, ElectraConfig
        extra = dict(
            embedding_size=m.embedding_size or m.dims()["hidden_size"],
            generator_size=m.generator_size,
            discriminator_weight=m.discriminator_weight,
            share_layers=m.share_layers,
        )
    elif albert:
        cls = sparse_bert.SparseAlbertForPreTraining if pair else sparse_bert.SparseAlbertForMaskedLM
        layers = m.dims()["num_hidden_layers"]
        config_class = AlbertConfig
        extra = dict(
            embedding_size=m.embedding_size or m.dims()["hidden_size"],
            hidden_act="gelu",
            num_hidden_groups=1 if m.share_layers == "all" else layers,
            share_layers=m.share_layers,
        )
    else:
        cls = sparse_bert.SparseBertForPreTraining if pair else sparse_bert.SparseBertForMaskedLM
        config_class, extra = BertConfig, untied
    if m.init_from:
        model = load_pretrained(cls, m.init_from, attn_implementation=m.attn_implementation)
        check_vocab_size(model, tokenizer, m.init_from, _tokenizer_source(m))
        return model
    config = config_class(
        vocab_size=len(tokenizer),
        max_position_embeddings=m.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        **m.dims(),
        **_dropouts(m),
        **extra,
    )
    config._attn_implementation = m.attn_implementation
    return cls(config)  # type: ignore[arg-type]  # cls and config_class are picked as a pair


def _with_token_pinyin(model, tokenizer):
    """ELECTRA's replaced tokens carry their own readings: the table of every vocabulary entry's pinyin."""
    if hasattr(model, "set_token_pinyin"):
        model.set_token_pinyin(token_pinyin_table(tokenizer, model.config.pinyin_slots))
    return model


def _dropouts(m) -> dict:
    return {
        "hidden_dropout_prob": m.hidden_dropout_prob,
        "attention_probs_dropout_prob": m.attention_probs_dropout_prob,
    }


def _tokenizer_source(m) -> str:
    """Where the run's tokenizer comes from, in words (for messages)."""
    return m.tokenizer or (m.init_from if has_vocab(m.init_from) else "the bundled vocabulary")


def has_vocab(directory: str | None) -> bool:
    if not directory:
        return False
    return (Path(directory) / "vocab.txt").is_file()


def _vocab_dir(tokenizer) -> str:

    return str(Path(tokenizer.vocab_file).parent) if getattr(tokenizer, "vocab_file", None) else str(vocab_dir())
