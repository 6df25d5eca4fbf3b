"""``python -m chinese_ptm.finetune data|clue|multitask|stages ...`` (also under torchrun)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
