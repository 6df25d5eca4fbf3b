"""The model a pretraining recipe describes: GlyceBERT or BERT, with ALBERT's options (factorised embedding,
shared layers) and ELECTRA's objective on either trunk; from scratch or ``model.init_from`` a checkpoint.

On the BERT trunk the models are transformers' classes (BERT, ALBERT, ELECTRA's discriminator) with the MLM head
run only at masked positions; on GlyceBERT ours. Glyph tables come from the tokenizer's vocabulary folder or
``model.glyph_table``; ELECTRA's replaced tokens read their pinyin from each vocabulary entry's own reading.
"""

from __future__ import annotations

from pathlib import Path

from .recipe import Recipe
from .runtime import UserError
from .runtime.loading import check_vocab_size


def build_model(recipe: Recipe, tokenizer):
    """The model of the recipe: GlyceBERT or BERT (ALBERT with ALBERT's options, ELECTRA with objective
    electra), a pretraining head with a sentence task, else MLM."""
    m = recipe.model
    if m.architecture == "bert":
        return _bert_trunk_model(recipe, tokenizer)

    from .modeling import GlyceBertConfig, GlyceBertForMaskedLM, GlyceBertForPreTraining
    from .modeling.electra import GlyceBertForReplacedTokenDetection

    cls = GlyceBertForPreTraining if recipe.masking.sentence_task is not None else GlyceBertForMaskedLM
    branches = dict(use_glyph=m.use_glyph, use_pinyin=m.use_pinyin, glyph_trainable=m.glyph_trainable)
    branches.update(_albert_options(m))
    if m.objective == "electra":
        cls = GlyceBertForReplacedTokenDetection
        branches.update(generator_size=m.generator_size, discriminator_weight=m.discriminator_weight)

    if m.init_from:
        model = cls.from_pretrained(m.init_from, attn_implementation=m.attn_implementation, **branches)
        check_vocab_size(model, tokenizer, m.init_from, _tokenizer_source(recipe))
        glyphs = model.base_model.embeddings.glyph_embeddings
        if glyphs is not None and not glyphs.embedding.weight.any():  # a BERT checkpoint brings no glyphs
            model.load_glyph_table(glyph_table(m, tokenizer))
        return _with_token_pinyin(model, tokenizer)
    table = glyph_table(m, tokenizer) if m.use_glyph else None
    config = GlyceBertConfig(
        vocab_size=len(tokenizer), max_position_embeddings=m.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id, num_fonts=table.shape[1] if table is not None else 3,
        glyph_size=table.shape[2] if table is not None else 24, glyph_scale=m.glyph_scale,
        fusion_init=m.fusion_init, **branches, **m.dims(), **_dropouts(m),
    )
    config._attn_implementation = m.attn_implementation
    model = cls(config)
    if table is not None:
        model.load_glyph_table(table)
    return _with_token_pinyin(model, tokenizer)


def glyph_table(m, tokenizer):
    """The glyph table of a new GlyceBERT: ``model.glyph_table``, else the one beside the tokenizer's vocabulary."""
    from .glyph import load_glyph_table

    table = load_glyph_table(m.glyph_table) if m.glyph_table else load_glyph_table(_vocab_dir(tokenizer))
    if table.shape[0] != len(tokenizer):
        raise UserError(f"glyph table has {table.shape[0]} rows, the tokenizer {len(tokenizer)} tokens: "
                        "build a table for this vocab with `chinese-ptm glyphs build --vocab ...`")
    return table


def _albert_options(m) -> dict:
    """ALBERT's options as config fields, only where the recipe sets them (a checkpoint keeps its own)."""
    options = {"embedding_size": m.embedding_size} if m.embedding_size else {}
    return options | ({"share_layers": m.share_layers} if m.share_layers != "none" else {})


def _bert_trunk_model(recipe: Recipe, tokenizer):
    """transformers' classes: BERT; ALBERT when the recipe asks for a factorised embedding or shared layers
    (``num_hidden_groups=1`` is ALBERT's own full sharing); ELECTRA's discriminator for objective electra."""
    from transformers import AlbertConfig, BertConfig, ElectraConfig

    from .modeling import sparse_bert
    from .modeling.electra import ElectraForReplacedTokenDetection

    m = recipe.model
    pair = recipe.masking.sentence_task is not None
    albert = _albert_options(m)
    if m.objective == "electra":
        cls, config_class = ElectraForReplacedTokenDetection, ElectraConfig
        extra = dict(embedding_size=m.embedding_size or m.dims()["hidden_size"], generator_size=m.generator_size,
                     discriminator_weight=m.discriminator_weight, share_layers=m.share_layers)
    elif albert:
        cls = sparse_bert.SparseAlbertForPreTraining if pair else sparse_bert.SparseAlbertForMaskedLM
        layers = m.dims()["num_hidden_layers"]
        config_class = AlbertConfig
        extra = dict(embedding_size=m.embedding_size or m.dims()["hidden_size"], hidden_act="gelu",
                     num_hidden_groups=1 if m.share_layers == "all" else layers, share_layers=m.share_layers)
    else:
        cls = sparse_bert.SparseBertForPreTraining if pair else sparse_bert.SparseBertForMaskedLM
        config_class, extra = BertConfig, {}
    if m.init_from:
        model = cls.from_pretrained(m.init_from, attn_implementation=m.attn_implementation)
        check_vocab_size(model, tokenizer, m.init_from, _tokenizer_source(recipe))
        return model
    config = config_class(vocab_size=len(tokenizer), max_position_embeddings=m.max_position_embeddings,
                          pad_token_id=tokenizer.pad_token_id, **m.dims(), **_dropouts(m), **extra)
    config._attn_implementation = m.attn_implementation
    return cls(config)


def _with_token_pinyin(model, tokenizer):
    """ELECTRA's replaced tokens carry their own readings: the table of every vocabulary entry's pinyin."""
    if hasattr(model, "set_token_pinyin"):
        from .modeling.electra import token_pinyin_table

        model.set_token_pinyin(token_pinyin_table(tokenizer, model.config.pinyin_slots))
    return model


def _dropouts(m) -> dict:
    return {"hidden_dropout_prob": m.hidden_dropout_prob, "attention_probs_dropout_prob": m.attention_probs_dropout_prob}


def _tokenizer_source(recipe: Recipe) -> str:
    """Where the run's tokenizer comes from, in words (for messages)."""
    return recipe.model.tokenizer or (recipe.model.init_from if has_vocab(recipe.model.init_from) else
                                      "the bundled vocabulary")


def has_vocab(directory: str | None) -> bool:
    return bool(directory) and (Path(directory) / "vocab.txt").is_file()


def _vocab_dir(tokenizer) -> str:
    from .resources import vocab_dir

    return str(Path(tokenizer.vocab_file).parent) if getattr(tokenizer, "vocab_file", None) else str(vocab_dir())
