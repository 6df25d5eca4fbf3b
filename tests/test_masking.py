"""Masking collators: unit selection, budget, replacement, pinyin, seeding, SOP/NSP, similar words."""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pytest
import torch

from chinese_ptm.masking import (
    IGNORE_INDEX,
    MaskingCollator,
    PinyinGlyphSimilarity,
    Word2VecSimilarity,
    masking_budget,
    read_word2vec,
)
from chinese_ptm.masking.units import choose_ngrams, choose_units, word_runs
from chinese_ptm.text.pinyin import PINYIN_SLOTS

#: Tokens per record (content up to RECORD_LENGTH - 3: [CLS], [SEP] and room for a middle [SEP]).
RECORD_LENGTH = 128
N_RECORDS = 320
LINES_PER_DOC = 4


def _segment_line(tokenizer, line: str, max_tokens: int):
    """Tokens of one line (no specials) with jieba word ids (every token its own word when a token
    straddles two words), as data.py makes them."""
    import jieba

    enc = tokenizer(line, add_special_tokens=False, return_offsets_mapping=True)
    ids, pinyin = enc["input_ids"][:max_tokens], enc["pinyin_ids"][:max_tokens]
    offsets = enc["offset_mapping"][:max_tokens]
    char_word = np.full(len(line) + 1, -1)
    for k, (_, start, end) in enumerate(jieba.tokenize(line, HMM=False)):
        char_word[start:end] = k
    words = [int(char_word[s]) for s, _ in offsets]
    if any(char_word[s] != char_word[max(s, e - 1)] for s, e in offsets):
        words = list(range(len(ids)))
    return ids, pinyin, words


def build_records(tokenizer, lines, n_records: int, length: int) -> list[dict]:
    """Pack lines (sentences) of documents of LINES_PER_DOC lines into records of at most ``length``."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    records: list[dict] = []
    room = length - 3

    def flush(doc, parts):
        if not parts:
            return
        ids, pinyin, words, starts, base = [cls], [[0] * PINYIN_SLOTS], [-1], [], 0
        for p_ids, p_pinyin, p_words in parts:
            starts.append(len(ids))
            ids += p_ids
            pinyin += p_pinyin
            words += [w + base for w in p_words]
            base = max(words) + 1
        ids.append(sep)
        pinyin.append([0] * PINYIN_SLOTS)
        words.append(-1)
        records.append(
            dict(
                input_ids=ids,
                token_type_ids=[0] * len(ids),
                pinyin_ids=pinyin,
                word_ids=words,
                sentence_starts=starts,
                doc_id=doc,
            )
        )

    for doc_start in range(0, len(lines), LINES_PER_DOC):
        doc = doc_start // LINES_PER_DOC
        parts, used = [], 0
        for line in lines[doc_start : doc_start + LINES_PER_DOC]:
            part = _segment_line(tokenizer, line, room)
            if not part[0]:
                continue
            if used + len(part[0]) > room:
                flush(doc, parts)
                parts, used = [], 0
            parts.append(part)
            used += len(part[0])
        flush(doc, parts)
        if len(records) >= n_records:
            break
    return records[:n_records]


@pytest.fixture(scope="module")
def tokenizer(default_tokenizer):
    return default_tokenizer


@pytest.fixture(scope="module")
def records(tokenizer, news_lines):
    return build_records(tokenizer, news_lines, N_RECORDS, RECORD_LENGTH)


@pytest.fixture(scope="module")
def similarity(tokenizer):
    source = PinyinGlyphSimilarity(tokenizer).build()
    print(f"PinyinGlyphSimilarity built in {source.build_seconds:.1f} s")
    return source


def padded(records, key, fill, length):
    rows = [r[key] for r in records]
    shape = (len(rows), length) + np.asarray(rows[0]).shape[1:]
    out = np.full(shape, fill, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def collate(collator, records, batch_size=64):
    """All records through the collator in batches; numpy arrays padded to RECORD_LENGTH + 1."""
    out: dict[str, list] = {}
    for start in range(0, len(records), batch_size):
        batch = collator(records[start : start + batch_size])
        for key, value in batch.items():
            value = value.numpy()
            if value.ndim >= 2:
                pad = [(0, 0), (0, RECORD_LENGTH + 1 - value.shape[1])] + [(0, 0)] * (value.ndim - 2)
                fill = {"labels": IGNORE_INDEX, "word_ids": -1}.get(key, 0)
                value = np.pad(value, pad, constant_values=fill)
            out.setdefault(key, []).append(value)
    return {k: np.concatenate(v) for k, v in out.items()}


def originals(records):
    n = RECORD_LENGTH + 1
    return (
        padded(records, "input_ids", 0, n),
        padded(records, "pinyin_ids", 0, n),
        padded(records, "word_ids", -1, n),
    )


# -- budget, units -----------------------------------------------------------------------------


def test_budget_rule():
    assert masking_budget(0, 0.15) == 0
    assert masking_budget(3, 0.15) == 1  # at least one
    assert masking_budget(100, 0.15) == 15
    assert masking_budget(510, 0.15) == 76
    assert masking_budget(4, 1.0) == 4


def test_choose_units_is_greedy_with_skips():
    lengths = np.array([3, 1, 4, 1, 5, 2, 2, 1, 3, 2])
    for seed in range(300):
        budget = seed % 12
        chosen = choose_units(lengths, budget, np.random.default_rng(seed))
        # the sequential rule: visit in random order, take a unit when it still fits
        expected, left = [], budget
        for unit in np.random.default_rng(seed).permutation(len(lengths)) if budget else []:
            if lengths[unit] <= left:
                expected.append(unit)
                left -= lengths[unit]
        assert chosen.tolist() == sorted(expected)
        assert lengths[chosen].sum() <= budget


@pytest.mark.parametrize("strategy", ["wwm", "char", "mixed", "ngram", "mac"])
def test_budget_and_specials(tokenizer, records, similarity, strategy):
    collator = MaskingCollator(tokenizer, strategy=strategy, similarity=similarity if strategy == "mac" else None)
    out = collate(collator, records)
    ids, _, words = originals(records)
    chosen = out["labels"] != IGNORE_INDEX
    content = (words >= 0) & (ids != tokenizer.pad_token_id)
    n_tokens = content.sum(axis=1)
    budgets = np.array([masking_budget(int(n), 0.15) for n in n_tokens])
    per_sample = chosen.sum(axis=1)
    assert (per_sample <= budgets).all()
    assert per_sample.sum() >= 0.97 * budgets.sum()
    assert abs(per_sample.sum() / n_tokens.sum() - 0.15) < 0.01
    # specials and padding are never chosen and never changed
    assert not (chosen & ~content).any()
    special = ~content & (out["attention_mask"] == 1)
    np.testing.assert_array_equal(out["input_ids"][special], ids[special])
    # labels: the original ids where chosen, -100 elsewhere (padding included)
    np.testing.assert_array_equal(out["labels"][chosen], ids[chosen])
    assert (out["labels"][out["attention_mask"] == 0] == IGNORE_INDEX).all()


def _word_groups(words):
    """(row, word id) -> positions, for every word of the batch."""
    groups: dict[tuple[int, int], list[int]] = {}
    for row, pos in zip(*np.nonzero(words >= 0)):
        groups.setdefault((int(row), int(words[row, pos])), []).append(int(pos))
    return groups


@pytest.mark.parametrize("strategy", ["wwm", "ngram", "mac"])
def test_whole_words_all_or_nothing(tokenizer, records, similarity, strategy):
    collator = MaskingCollator(
        tokenizer, strategy=strategy, similarity=similarity if strategy == "mac" else None, return_word_ids=True
    )
    out = collate(collator, records)
    chosen = out["labels"] != IGNORE_INDEX
    groups = _word_groups(out["word_ids"])
    multi = 0
    for (row, _), positions in groups.items():
        flags = chosen[row, positions]
        assert flags.all() or not flags.any()
        multi += len(positions) > 1 and flags.all()
    assert multi > 100  # multi-token words were masked


def test_char_and_mixed_split_words(tokenizer, records):
    def split_share(strategy):
        out = collate(MaskingCollator(tokenizer, strategy=strategy, return_word_ids=True, seed=3), records)
        chosen = out["labels"] != IGNORE_INDEX
        split = np.zeros(len(chosen), dtype=bool)
        for (row, _), positions in _word_groups(out["word_ids"]).items():
            flags = chosen[row, positions]
            split[row] |= bool(flags.any() and not flags.all())
        return split.mean()

    char_share, mixed_share = split_share("char"), split_share("mixed")
    assert char_share > 0.5  # char masking cuts words
    assert abs(mixed_share - 0.1 * char_share) < 0.04  # ChineseBERT: 10% of samples char-masked


def test_ngram_lengths():
    """Accepted spans follow .4/.3/.2/.1 closely; as in Google's and HFL's generators, a span that
    overlaps a chosen one or overflows the budget is skipped, which favours short spans a little."""
    rng = np.random.default_rng(1)
    widths = Counter()
    lengths = np.ones(400, dtype=np.int64)
    adjacent = np.ones(400, dtype=bool)
    adjacent[0] = False
    for _ in range(300):
        _, width = choose_ngrams(lengths, adjacent, 60, rng, (0.4, 0.3, 0.2, 0.1))
        widths.update(width.tolist())
    total = sum(widths.values())
    for n, p in zip(range(1, 5), (0.4, 0.3, 0.2, 0.1)):
        assert abs(widths[n] / total - p) < 0.05, (n, widths[n] / total)
    assert set(widths) <= {1, 2, 3, 4}


def test_ngram_spans_stay_inside_stretches():
    rng = np.random.default_rng(2)
    words = np.array([-1, 0, 0, 1, 2, -1, 3, 4, 4, 5, -1])
    maskable = words >= 0
    starts, ends = word_runs(words, maskable)
    np.testing.assert_array_equal(starts, [1, 3, 4, 6, 7, 9])
    adjacent = np.r_[False, starts[1:] == ends[:-1]]
    for _ in range(200):
        first, width = choose_ngrams(ends - starts, adjacent, 4, rng, (0.1, 0.2, 0.3, 0.4))
        for f, w in zip(first, width):
            assert not (words[starts[f] : ends[f + w - 1]] == -1).any()


# -- replacement and pinyin --------------------------------------------------------------------


def _decisions(out, ids, mask_id):
    chosen = out["labels"] != IGNORE_INDEX
    masked = chosen & (out["input_ids"] == mask_id)
    changed = chosen & ~masked & (out["input_ids"] != ids)
    kept = chosen & (out["input_ids"] == ids)
    return chosen, masked, changed, kept


def test_replacement_split_and_pinyin(tokenizer, records):
    out = collate(MaskingCollator(tokenizer, strategy="wwm", return_word_ids=True, seed=5), records)
    ids, pinyin, _ = originals(records)
    chosen, masked, changed, kept = _decisions(out, ids, tokenizer.mask_token_id)
    # per unit (word), one decision for all its tokens
    counts = Counter()
    for (row, _), positions in _word_groups(out["word_ids"]).items():
        if chosen[row, positions].all():
            kinds = {("mask" if masked[row, p] else "random" if changed[row, p] else "keep") for p in positions}
            if len(kinds) > 1:  # a random draw may hit the original token: then it looks kept
                assert kinds == {"random", "keep"}
                kinds = {"random"}
            counts[kinds.pop()] += 1
    total = sum(counts.values())
    assert total > 2000
    assert abs(counts["mask"] / total - 0.8) < 0.03
    assert abs(counts["random"] / total - 0.1) < 0.02
    assert abs(counts["keep"] / total - 0.1) < 0.02

    id2pinyin = tokenizer.pinyin_tables.id2pinyin
    got = out["pinyin_ids"]
    # [MASK]: zeros, nothing of the original reading
    assert (got[masked] == 0).all()
    # random: the reading of the new token (its first reading), never derived from the original
    for row, pos in zip(*np.nonzero(changed)):
        new = int(out["input_ids"][row, pos])
        assert got[row, pos].tolist() == id2pinyin[str(new)][0]
        if pinyin[row, pos].tolist() not in id2pinyin[str(new)]:
            assert got[row, pos].tolist() != pinyin[row, pos].tolist()
    # kept and unchosen tokens keep their pinyin
    np.testing.assert_array_equal(got[kept], pinyin[kept])
    np.testing.assert_array_equal(got[~chosen], pinyin[~chosen])
    # random Chinese characters are replaced by Chinese characters, never by specials or ## pieces
    new_tokens = tokenizer.convert_ids_to_tokens(out["input_ids"][changed].tolist())
    assert not any(t.startswith("##") or t.startswith("[") for t in new_tokens)


def test_custom_replace_probs(tokenizer, records):
    out = collate(MaskingCollator(tokenizer, strategy="char", replace_probs=(0.0, 1.0, 0.0)), records)
    ids, _, _ = originals(records)
    chosen, masked, changed, _ = _decisions(out, ids, tokenizer.mask_token_id)
    assert not masked.any()
    assert changed.sum() > 0.99 * chosen.sum()


class FixedSource:
    """A similar-word source that knows one word."""

    def __init__(self, table):
        self.table = table
        self.asked = Counter()

    def similar(self, word, rng):
        self.asked[word] += 1
        return self.table.get(word)


def test_mac_similar_words_and_pinyin(tokenizer, records, similarity):
    collator = MaskingCollator(tokenizer, strategy="mac", similarity=similarity, seed=7, return_word_ids=True)
    out = collate(collator, records)
    ids, pinyin, _ = originals(records)
    chosen, masked, _, _ = _decisions(out, ids, tokenizer.mask_token_id)
    assert not masked.any()  # no [MASK] under MLM as correction
    id2pinyin = tokenizer.pinyin_tables.id2pinyin
    got = out["pinyin_ids"]
    changed_words = kept_words = 0
    for (row, _), positions in _word_groups(out["word_ids"]).items():
        if not chosen[row, positions].all():
            continue
        if (out["input_ids"][row, positions] == ids[row, positions]).all():  # kept (or a random draw of itself)
            kept_words += 1
            np.testing.assert_array_equal(got[row, positions], pinyin[row, positions])
            continue
        changed_words += 1
        for pos in positions:  # a similar word (it may share characters) or random tokens: their readings
            new = str(int(out["input_ids"][row, pos]))
            assert got[row, pos].tolist() in id2pinyin[new]
    share = changed_words / (changed_words + kept_words)
    assert abs(share - 0.9) < 0.03


def test_mac_uses_the_source_and_falls_back(tokenizer):
    enc = tokenizer("我们在银行工作")
    record = dict(enc, word_ids=[-1, 0, 0, 1, 2, 2, 3, 3, -1], sentence_starts=[1], doc_id=0)
    source = FixedSource({"银行": "银杏"})
    collator = MaskingCollator(
        tokenizer,
        strategy="mac",
        similarity=source,
        mlm_probability=1.0,
        replace_probs=(1.0, 0.0, 0.0),
        ngram_probs=(1.0,),
    )
    out = collator([record])
    tokens = tokenizer.convert_ids_to_tokens(out["input_ids"][0].tolist())
    assert tokens[4:6] == ["银", "杏"]
    assert out["pinyin_ids"][0, 4:6].tolist() == [tokenizer.pinyin_tables.reading_ids(r) for r in ("yin2", "xing4")]
    assert tokens[1:3] != ["我", "们"]  # no similar word: random characters
    assert set(source.asked) == {"我们", "在", "银行", "工作"}
    assert (out["labels"][0, 1:8] == torch.tensor(enc["input_ids"][1:8])).all()


# -- determinism and workers -------------------------------------------------------------------


def test_determinism_and_dynamic(tokenizer, records):
    batch = records[:32]
    first = MaskingCollator(tokenizer, seed=11)
    again = MaskingCollator(tokenizer, seed=11)
    other = MaskingCollator(tokenizer, seed=12)
    a1, b1 = first(batch), again(batch)
    for key in a1:
        assert torch.equal(a1[key], b1[key])
    a2 = first(batch)
    assert not torch.equal(a1["labels"], a2["labels"])  # re-masked on every call
    assert not torch.equal(a1["labels"], other(batch)["labels"])
    first.set_epoch(0)
    assert torch.equal(first(batch)["labels"], a1["labels"])  # the stream restarts
    first.set_epoch(1)
    assert not torch.equal(first(batch)["labels"], a1["labels"])


class _Same(torch.utils.data.Dataset):
    def __init__(self, record, n):
        self.record, self.n = record, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.record


def test_per_worker_seeding(tokenizer, records):
    dataset = _Same(records[0], 16)
    collator = MaskingCollator(tokenizer, strategy="char", seed=3)

    def run(workers):
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=4,
            num_workers=workers,
            collate_fn=collator,
            multiprocessing_context="fork" if workers else None,
        )
        return [b["labels"] for b in loader]

    main, two, two_again = run(0), run(2), run(2)
    assert all(torch.equal(x, y) for x, y in zip(two, two_again))  # reproducible
    # batches alternate between workers 0 and 1; worker 0 follows the main process' stream
    assert torch.equal(two[0], main[0]) and torch.equal(two[2], main[1])
    assert not torch.equal(two[0], two[1])  # the workers draw different masks


# -- sentence tasks ----------------------------------------------------------------------------


def _restored(out):
    return np.where(out["labels"] != IGNORE_INDEX, out["labels"], out["input_ids"])


def _segments(row, types, sep):
    seps = np.flatnonzero(row == sep)
    return row[1 : seps[0]], row[seps[0] + 1 : seps[1]], seps


def test_sop(tokenizer, records):
    batch = records[:64]
    out = {k: v.numpy() for k, v in MaskingCollator(tokenizer, sentence_task="sop", seed=1)(batch).items()}
    labels = out["sentence_order_label"]
    assert 0.3 < labels.mean() < 0.7
    restored = _restored(out)
    sep = tokenizer.sep_token_id
    for i, record in enumerate(batch):
        content = np.asarray(record["input_ids"][1:-1])
        n = len(record["input_ids"]) + 1
        a, b, seps = _segments(restored[i], out["token_type_ids"][i], sep)
        assert len(seps) == 2 and seps[1] == n - 1
        joined = np.concatenate((b, a) if labels[i] else (a, b))
        np.testing.assert_array_equal(joined, content)
        assert (out["token_type_ids"][i, : seps[0] + 1] == 0).all()
        assert (out["token_type_ids"][i, seps[0] + 1 : n] == 1).all()
        assert (out["token_type_ids"][i, n:] == 0).all()
        assert (out["pinyin_ids"][i, seps[0]] == 0).all()
        assert out["labels"][i, seps[0]] == IGNORE_INDEX
        if len(record["sentence_starts"]) > 1:  # split at a sentence start
            first = a if not labels[i] else b
            assert len(first) + 1 in record["sentence_starts"]


def test_nsp(tokenizer, records):
    batch = records[:64]
    out = {k: v.numpy() for k, v in MaskingCollator(tokenizer, sentence_task="nsp", seed=2)(batch).items()}
    labels = out["next_sentence_label"]
    assert 0.3 < labels.mean() < 0.7
    restored = _restored(out)
    for i, record in enumerate(batch):
        content = np.asarray(record["input_ids"][1:-1])
        a, b, _ = _segments(restored[i], out["token_type_ids"][i], tokenizer.sep_token_id)
        np.testing.assert_array_equal(a, content[: len(a)])
        if labels[i] == 0:
            np.testing.assert_array_equal(b, content[len(a) :])
        else:  # a slice of a record of another document
            hosts = [
                r
                for r in batch
                if r["doc_id"] != record["doc_id"]
                and any(np.array_equal(b, np.asarray(r["input_ids"][s : s + len(b)])) for s in r["sentence_starts"])
            ]
            assert hosts
    # one document only: the real next is kept
    same_doc = [dict(r, doc_id=0) for r in batch[:16]]
    out = MaskingCollator(tokenizer, sentence_task="nsp")(same_doc)
    assert (out["next_sentence_label"] == 0).all()


# -- options and validation --------------------------------------------------------------------


def test_padding_truncation_and_options(tokenizer, records):
    batch = records[:8]
    out = MaskingCollator(tokenizer, pad_to_multiple_of=64, max_length=100, return_word_ids=True)(batch)
    assert out["input_ids"].shape[1] % 64 == 0
    lengths = out["attention_mask"].sum(1)
    assert (lengths <= 100).all()
    last = out["input_ids"][torch.arange(len(batch)), lengths - 1]
    assert (last == tokenizer.sep_token_id).all()
    assert out["pinyin_ids"].shape == out["input_ids"].shape + (PINYIN_SLOTS,)
    assert (out["word_ids"][out["attention_mask"] == 0] == -1).all()
    out = MaskingCollator(tokenizer, sentence_task="sop", max_length=64)(batch)
    assert out["attention_mask"].sum(1).max() <= 64
    plain = MaskingCollator(tokenizer, strategy="char", return_pinyin=False)
    plain = plain([{"input_ids": r["input_ids"]} for r in batch])
    assert "pinyin_ids" not in plain and set(plain) == {"input_ids", "token_type_ids", "attention_mask", "labels"}


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(strategy="bpe"), "strategy"),
        (dict(mlm_probability=1.5), "mlm_probability"),
        (dict(mlm_probability=0), "mlm_probability"),
        (dict(replace_probs=(0.8, 0.1)), "replace_probs"),
        (dict(replace_probs=(0.8, 0.3, 0.1)), "replace_probs"),
        (dict(replace_probs=(1.2, -0.1, -0.1)), "replace_probs"),
        (dict(ngram_probs=(0.5, 0.4)), "ngram_probs"),
        (dict(wwm_sample_probability=-0.1), "wwm_sample_probability"),
        (dict(sentence_task="mlm"), "sentence_task"),
        (dict(similarity=object(), strategy="mac"), "similarity"),
        (dict(pad_to_multiple_of=0), "pad_to_multiple_of"),
        (dict(max_length=2), "max_length"),
        (dict(max_length=4, sentence_task="sop"), "max_length"),
        (dict(seed=-1), "seed"),
    ],
)
def test_validation(tokenizer, kwargs, field):
    with pytest.raises(ValueError, match=field):
        MaskingCollator(tokenizer, **kwargs)


def test_bad_records(tokenizer, records):
    collator = MaskingCollator(tokenizer)
    with pytest.raises(ValueError, match="record 1: no 'word_ids'"):
        collator([records[0], {k: v for k, v in records[1].items() if k != "word_ids"}])
    with pytest.raises(ValueError, match="record 0: 'word_ids' has"):
        collator([dict(records[0], word_ids=[0, 1])])
    with pytest.raises(ValueError, match="empty batch"):
        collator([])
    with pytest.raises(ValueError, match="doc_id"):
        MaskingCollator(tokenizer, sentence_task="nsp")([{k: v for k, v in records[0].items() if k != "doc_id"}])


# -- similar words -----------------------------------------------------------------------------


def test_pinyin_glyph_similarity(similarity):
    assert similarity.build_seconds < 60
    assert {"她", "它"} <= set(similarity.homophones("他"))
    assert {"航", "杭"} <= set(similarity.homophones("行", "hang2"))
    assert "他" not in similarity.homophones("他")
    assert set(similarity.glyph_similar("日")) & {"曰", "目"}
    rng = np.random.default_rng(0)
    for word in ("银行", "经济", "世纪", "希望"):
        found = similarity.similar(word, rng)
        assert found is None or (len(found) == len(word) and found != word)
    assert similarity.similar("银行", rng) is not None
    assert similarity.similar("abc", rng) is None  # no reading, no glyph: the collator falls back


def test_word2vec(tmp_path, tokenizer):
    path = tmp_path / "vectors.txt"
    path.write_text("5 3\n银行 1 0 0\n钱庄 0.9 0.1 0\n金融 0.8 0.3 0.1\n水 0 1 0\n火 0 0.9 0.2\n", encoding="utf-8")
    words, vectors = read_word2vec(path)
    assert words == ["银行", "钱庄", "金融", "水", "火"] and vectors.shape == (5, 3)
    source = Word2VecSimilarity(path, top_k=1)
    assert source.neighbours("银行") == ["钱庄"]
    assert source.neighbours("水") == ["火"]  # same length only
    assert source.similar("不在", np.random.default_rng(0)) is None
    enc = tokenizer("在银行")
    record = dict(enc, word_ids=[-1, 0, 1, 1, -1])
    collator = MaskingCollator(
        tokenizer,
        strategy="mac",
        similarity=source,
        mlm_probability=1.0,
        replace_probs=(1.0, 0.0, 0.0),
        ngram_probs=(1.0,),
    )
    assert tokenizer.convert_ids_to_tokens(collator([record])["input_ids"][0, 2:4].tolist()) == ["钱", "庄"]

    bad = tmp_path / "bad.txt"
    for text, message in [
        ("2 3\n银行 1 0 0\n钱庄 0.9 0.1\n", r"bad.txt, line 3: expected a word and 3 numbers"),
        ("2 3\n银行 1 0 0\n钱庄 0.9 x 0\n", r"bad.txt, line 3: 'x' is not a number"),
        ("vectors\n", r"bad.txt, line 1: expected the header"),
        ("3 3\n银行 1 0 0\n", r"announces 3 vectors but the file holds 1"),
        ("1 3\n银行 1 0 0\n钱庄 1 0 0\n", r"bad.txt, line 3: more vectors"),
    ]:
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            read_word2vec(bad)
    bad.write_bytes(b"1 2\n\xff\xfe 1 2\n")
    with pytest.raises(ValueError, match="not utf-8 text"):
        read_word2vec(bad)
