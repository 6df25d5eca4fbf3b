"""``python -m chinese_ptm.clue clue TASK ...`` (also under torchrun)."""

import sys

from .cli import main

if __name__ == "__main__":
    result = main()
    sys.exit(result if isinstance(result, int) and not isinstance(result, bool) else 0)
