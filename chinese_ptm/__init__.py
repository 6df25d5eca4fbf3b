"""chinese_ptm: a Chinese-specific pretraining toolkit (glyph + pinyin inputs, whole-word masking,
GlyceBERT/ChineseBERT, BERT-wwm-ext and MacBERT recipes, CLUE fine-tuning)."""

from pathlib import Path

__version__ = "0.1.0"

#: Root of the source tree (holds ``vocab/``, ``fonts/`` and ``recipes/`` next to the package).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The default vocabulary directory (vocab.txt, pinyin tables, prebuilt glyph tables).
DEFAULT_VOCAB_DIR = PROJECT_ROOT / "vocab"
#: The shipped open-licence font subsets.
DEFAULT_FONTS_DIR = PROJECT_ROOT / "fonts"
