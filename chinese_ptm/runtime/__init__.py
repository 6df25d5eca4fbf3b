"""The layer every run stands on: user errors, ranks, batch plans.  [no torch at import]"""

from ..errors import SettingsError, UserError
from .plan import BatchPlan, plan_batches
from .ranks import is_main_process, local_rank, rank, run_once, world_size

__all__ = [
    "BatchPlan",
    "SettingsError",
    "UserError",
    "is_main_process",
    "local_rank",
    "plan_batches",
    "rank",
    "run_once",
    "world_size",
]
