import hashlib
import json

from chinese_ptm.cli import main
from chinese_ptm.resources import vocab_dir
from chinese_ptm.text.tokenization import read_vocab
from chinese_ptm.text.vocab import SPECIAL_TOKENS, build_vocab, gb2312_chars, write_vocab


def test_default_vocab_layout():
    vocab = read_vocab(vocab_dir() / "vocab.txt")
    assert [vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [0, 100, 101, 102, 103]
    hanzi = {c for c in gb2312_chars() if "\u4e00" <= c <= "\u9fff"}
    assert len(hanzi) == 6763 and hanzi <= vocab.keys()
    for c in "“”‘’—…、。《》「」『』【】（）０１ａ國說镕":
        assert c in vocab, c
    assert "##0" in vocab and "##９" in vocab and "##a" in vocab
    assert not any(t != t.lower() for t in vocab if not t.startswith("["))


def test_default_vocab_meta_matches_file():
    meta = json.loads((vocab_dir() / "vocab_meta.json").read_text())
    data = (vocab_dir() / "vocab.txt").read_bytes()
    assert meta["vocab_sha256"] == hashlib.sha256(data).hexdigest(), "rebuild with `chinese-ptm vocab build`"
    assert meta["size"] == data.count(b"\n")


def test_build_is_deterministic_and_covers_corpus(tmp_path):
    lines = ["１９９８年，朱镕基总理在北京说：“iPhone 售价 5999 元。”"] * 3 + ["ＷＴＯ和ＡＰＥＣ会议"]
    a, summary = build_vocab(lines, pieces=50)
    b, _ = build_vocab(lines, pieces=50)
    assert a == b and a[: len(SPECIAL_TOKENS)] == SPECIAL_TOKENS
    assert len(set(a)) == len(a) and summary["learned_pieces"] <= 50
    assert "镕" in a
    write_vocab(a, tmp_path, summary)
    assert (tmp_path / "config" / "id2pinyin.json").is_file()


def test_tables_command(tmp_path, capsys):
    (tmp_path / "vocab.txt").write_text("".join(t + "\n" for t in SPECIAL_TOKENS + ["中", "文"]), encoding="utf-8")
    assert main(["vocab", "tables", str(tmp_path)]) == 0
    assert "pinyin2tensor.json" in capsys.readouterr().out
    assert (tmp_path / "config" / "pinyin2tensor.json").is_file()
