"""Follow-up material: when performed time is worth a question."""

from __future__ import annotations

# Rutin för underlag vid uppföljning: "En avvikelse på cirka ±5 % mellan beviljad och
# utförd tid är normal."
NORMAL_DEVIATION = 0.05


def deviates(granted: int | None, performed: int | None) -> bool:
    """More than about 5 % between granted and performed time (both known)."""
    if granted is None or performed is None:
        return False
    return abs(performed - granted) > NORMAL_DEVIATION * granted
