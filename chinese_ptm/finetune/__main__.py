"""``python -m chinese_ptm.finetune data|clue|multitask|stages ...`` (also under torchrun) is ``chinese-ptm finetune ...``."""

import sys

from ..cli import main

sys.exit(main(["finetune", *sys.argv[1:]]))
