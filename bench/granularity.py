"""Characters or words? Char BERT, word BERT, char GlyceBERT and AMBERT (both views, one encoder) pretrained for the
same wall time on the same corpus (the tiny recipes: chinesebert-tiny's data, schedule and batch), then fine-tuned
pretrained and from scratch on the embedded real tasks; with each tokenizer's vocabulary size, tokens per text,
[UNK] and character-fallback rates on held-out People's Daily text.

    python bench/granularity.py --minutes 4 --seeds 3
    python bench/granularity.py --tokenizers-only

Held-out MLM accuracy is per view and not comparable across views (a word is one prediction, a character another).
Prints JSON (and writes it with --out).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from learning import compare, write_result

#: the arms: (recipe, overrides); the tiny recipes keep chinesebert-tiny's data, schedule and batch
ARMS = {
    "char BERT": ("chinesebert-tiny", {"model.architecture": "bert"}),
    "word BERT": ("chinesebert-tiny", {"model.architecture": "bert", "model.granularity": "word"}),
    "char GlyceBERT": ("chinesebert-tiny", {}),
    "AMBERT": ("ambert-tiny", {}),
}
HELDOUT_LINES = 2000  # the end of People's Daily 1998, which fine-tuning's pd98 tasks also hold out


def tokenizer_figures() -> dict:
    """Vocabulary size, tokens per text, [UNK] share and (words) the share of tokens that fell back to characters,
    on the last lines of People's Daily 1998."""
    from chinese_ptm.data.corpora import peoples_daily_lines
    from chinese_ptm.resources import word_vocab_dir
    from chinese_ptm.text.tokenization import load_tokenizer

    lines = [line for line in peoples_daily_lines()[-HELDOUT_LINES:] if line.strip()]
    figures = {}
    for name, tokenizer in (("char", load_tokenizer()), ("word", load_tokenizer(word_vocab_dir()))):
        ids = tokenizer(lines, add_special_tokens=False)["input_ids"]
        total = sum(map(len, ids))
        row = {
            "vocabulary": len(tokenizer),
            "tokens_per_text": round(total / len(lines), 2),
            "characters_per_token": round(sum(map(len, lines)) / total, 3),
            "unk_share": round(sum(x.count(tokenizer.unk_token_id) for x in ids) / total, 5),
        }
        if name == "word":
            row["fallback_share"] = round(_fallback_share(tokenizer, lines), 4)
        figures[name] = row
    return figures


def _fallback_share(tokenizer, lines: list[str]) -> float:
    """Share of tokens that are characters of a multi-character word the vocabulary lacks."""
    from chinese_ptm.text.word_tokenization import is_chinese_word

    fallen = total = 0
    for line in lines:
        for start, end in tokenizer.segmenter.segment(line):
            word = line[start:end]
            if is_chinese_word(word) and word not in tokenizer.words:
                fallen += len(word)
                total += len(word)
            else:
                total += 1
    return fallen / max(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="pretraining wall time of each arm")
    parser.add_argument("--seeds", type=int, default=3, help="fine-tuning seeds of each task")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {', '.join(ARMS)}")
    parser.add_argument("--tasks", default="reviews,pd98-ner")
    parser.add_argument("--budget", choices=["full", "demo"], default="demo", help="the fine-tuning budget")
    parser.add_argument("--baseline", choices=["scratch", "none"], default="scratch", help="fine-tune scratch twins")
    parser.add_argument("--tokenizers-only", action="store_true", help="the tokenizer figures alone (seconds)")
    parser.add_argument("--workdir", type=Path, default=Path("runs/bench-granularity"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.noise = args.match = args.pretrain_seed = None  # what bench/learning.py's compare reads beside these
    result = {"tokenizers": tokenizer_figures()}
    if not args.tokenizers_only:
        result |= compare(args, ARMS)
    write_result(result, args.out)


if __name__ == "__main__":
    main()
