"""``python -m chinese_ptm.pretrain RECIPE ...`` (what torchrun starts) is ``chinese-ptm pretrain RECIPE ...``."""

import sys

from ..cli import main

sys.exit(main(["pretrain", *sys.argv[1:]]))
