"""What open glyphs recover: models with a small character vocabulary (the ``--chars`` most frequent characters
of the pretraining corpus), where every other character is [UNK] to the word embedding.

Three tiny arms are pretrained for the same wall time on the same records: GlyceBERT with open glyphs (an [UNK]
character shows its own glyph and reading), GlyceBERT without them (the original: [UNK]'s glyph, its own
reading) and BERT ([UNK], nothing else). Each is then evaluated (``chinese-ptm evaluate``, several seeds) on the
NER task; ``unk`` is the subset of test sentences holding a character outside the vocabulary, and
``unk_entities`` the entity F1 of the best run over the entities that hold such a character.

    python bench/open_glyphs.py --chars 3000 --minutes 5 --seeds 3 --out bench/results/open_glyphs.json

Prints JSON (and writes it with --out).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from learning import pretrain, seconds_per_step  # noqa: E402  (the equal-time arms of bench/learning.py)

ARMS = {
    "GlyceBERT open glyphs": {"model.open_glyphs": True},
    "GlyceBERT [UNK] glyph": {"model.open_glyphs": False},
    "BERT": {"model.architecture": "bert"},
}


def small_vocabulary(folder: Path, chars: int) -> dict:
    """The bundled vocabulary with only the ``chars`` most frequent Chinese characters of the pretraining corpus
    (every other entry kept), its pinyin tables and glyph table, built with the commands a user runs."""
    from chinese_ptm.data.corpora import peoples_daily_lines
    from chinese_ptm.resources import vocab_dir
    from chinese_ptm.text.normalize import is_cjk
    from chinese_ptm.text.vocab import read_vocab_tokens

    counts = Counter(c for line in peoples_daily_lines(splits=("train",)) for c in line if is_cjk(c))
    kept = {c for c, _ in counts.most_common(chars)}
    tokens = [t for t in read_vocab_tokens(vocab_dir()) if not (len(t) == 1 and is_cjk(t)) or t in kept]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    for command in (["vocab", "tables", str(folder)], ["glyphs", "build", "--vocab", str(folder / "vocab.txt")]):
        subprocess.run([sys.executable, "-m", "chinese_ptm.cli", *command], check=True, stdout=subprocess.DEVNULL)
    covered = sum(n for c, n in counts.items() if c in kept) / sum(counts.values())
    return {"tokens": len(tokens), "chars": len(kept), "corpus_char_coverage": covered}


def unk_entity_f1(predictions: Path, vocab: set[str]) -> dict:
    """Entity F1 over the test entities (gold and predicted) that hold a Chinese character outside ``vocab``."""
    from chinese_ptm.finetune.embedded import ner_examples
    from chinese_ptm.text.normalize import is_cjk

    def outside(entities) -> set:
        return {
            (kind, start, end) for kind, start, end, text in entities if any(is_cjk(c) and c not in vocab for c in text)
        }

    predicted_by_id = {}
    for line in predictions.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        predicted_by_id[str(row["id"])] = [(e["type"], e["start"], e["end"], e["text"]) for e in row["entities"]]
    hits = predicted = gold = 0
    for example in ner_examples()["test"]:
        truth = outside((k, s, e + 1, example.text[s : e + 1]) for k, s, e in example.entities)
        guess = outside(predicted_by_id.get(str(example.uid), []))
        hits, predicted, gold = hits + len(truth & guess), predicted + len(guess), gold + len(truth)
    precision, recall = hits / max(predicted, 1), hits / max(gold, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"entities": gold, "predicted": predicted, "f1": 100 * f1, "recall": 100 * recall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chars", type=int, default=3000)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument(
        "--budget",
        choices=["full", "demo"],
        default="full",
        help="fine-tuning budget of the evaluation (as learning.py)",
    )
    parser.add_argument("--workdir", type=Path, default=Path("runs/bench-open-glyphs"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from chinese_ptm.apps.demo import DEMO_EVALUATION
    from chinese_ptm.apps.evaluate import run as evaluate

    vocab_folder = args.workdir / f"vocab-{args.chars}"
    result = {"chars": args.chars, "minutes": args.minutes, "seeds": args.seeds, "evaluation_budget": args.budget}
    result["vocabulary"] = small_vocabulary(vocab_folder, args.chars)
    vocab = set((vocab_folder / "vocab.txt").read_text(encoding="utf-8").split("\n"))
    result["arms"] = {}
    names = args.arms.split(",")
    arms = {name: {**ARMS[name], "model.tokenizer": str(vocab_folder)} for name in names}
    # every arm calibrated back to back first: load on the machine later cannot change the step counts
    speeds = {name: seconds_per_step(name, arms[name], args.workdir, "chinesebert-tiny") for name in names}
    for name in names:
        overrides, per_step = arms[name], speeds[name]
        steps = max(int(args.minutes * 60 / per_step), 10)
        arm = pretrain(name, {**overrides, "training.max_steps": steps}, args.workdir, "chinesebert-tiny")
        arm["seconds_per_step"] = per_step
        out = args.workdir / f"evaluate-{name.replace(' ', '_')}"
        arm["evaluation"] = evaluate(
            arm["final_checkpoint"],
            tasks=["pd98-ner"],
            seeds=list(range(1, args.seeds + 1)),
            scratch=False,
            overrides=DEMO_EVALUATION if args.budget == "demo" else {},
            output_dir=out,
            progress=False,
        )["tasks"]
        predictions = next(out.rglob("predictions_test.jsonl"), None)
        if predictions is not None:
            arm["unk_entities"] = unk_entity_f1(predictions, vocab)
        result["arms"][name] = arm
        print(json.dumps({k: v for k, v in arm.items() if k != "evaluation"}), file=sys.stderr, flush=True)
    text = json.dumps(result, indent=2, ensure_ascii=False, default=str)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
