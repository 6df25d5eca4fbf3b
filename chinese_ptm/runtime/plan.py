"""Batch plans: a recipe's global batch turned into per-device batch and accumulation for the
world size a run actually has.  [no torch]

A recipe states the global batch (sequences per optimizer step over all devices) and a micro-batch
ceiling (the most sequences one device takes in one forward pass). The plan keeps the global batch
exact whenever the world size divides it; otherwise it takes the nearest global batch the world
size can reach and says so. Each device's share is split into the largest micro-batch that divides
it without passing the ceiling, and accumulation makes up the rest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class BatchPlan:
    """How one optimizer step's sequences are spread over devices and micro-steps."""

    world_size: int
    per_device_batch: int  # sequences per device per forward pass
    accumulation: int  # micro-steps per optimizer step
    global_batch: int  # = world_size * per_device_batch * accumulation
    requested_global_batch: int
    micro_batch_ceiling: int

    @property
    def exact(self) -> bool:
        return self.global_batch == self.requested_global_batch

    def warning(self) -> str | None:
        """What the user should know about this plan, or None."""
        if not self.exact:
            return (
                f"global batch {self.requested_global_batch} is not divisible by world size {self.world_size}: "
                f"training with global batch {self.global_batch} instead "
                f"({self.world_size} x {self.per_device_batch} x {self.accumulation} accumulation)"
            )
        if self.per_device_batch * 2 <= self.micro_batch_ceiling and self.per_device_batch < self.share:
            return (
                f"per-device batch {self.per_device_batch} (the largest divisor of each device's "
                f"{self.share} sequences up to {self.micro_batch_ceiling}) is small; a global batch that "
                f"divides better keeps the devices busier"
            )
        return None

    @property
    def share(self) -> int:
        """Sequences per device per optimizer step."""
        return self.per_device_batch * self.accumulation

    def to_dict(self) -> dict:
        return {**asdict(self), "exact": self.exact}


def plan_batches(global_batch: int, world_size: int, micro_batch_ceiling: int) -> BatchPlan:
    """The plan for ``global_batch`` sequences per step on ``world_size`` devices, at most
    ``micro_batch_ceiling`` sequences per device per forward pass."""
    for name, value in (
        ("global batch", global_batch),
        ("world size", world_size),
        ("micro-batch ceiling", micro_batch_ceiling),
    ):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    share = _nearest_share(global_batch, world_size)
    micro = max(d for d in range(1, min(share, micro_batch_ceiling) + 1) if share % d == 0)
    return BatchPlan(
        world_size=world_size,
        per_device_batch=micro,
        accumulation=share // micro,
        global_batch=share * world_size,
        requested_global_batch=global_batch,
        micro_batch_ceiling=micro_batch_ceiling,
    )


def _nearest_share(global_batch: int, world_size: int) -> int:
    """Sequences per device: exact when divisible, else the share whose total is nearest (ties: larger)."""
    low = global_batch // world_size
    if low * world_size == global_batch:
        return low
    if low == 0:
        return 1
    return low + 1 if (low + 1) * world_size - global_batch <= global_batch - low * world_size else low
