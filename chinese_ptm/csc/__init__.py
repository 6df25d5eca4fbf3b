"""Chinese spelling correction (CSC): confusion sets, training-pair synthesis, SIGHAN data and metrics,
the correction model heads and ``chinese-ptm correct``."""
