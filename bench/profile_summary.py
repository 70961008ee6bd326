"""Summarise py-spy collapsed stacks: where the hub's time goes, by own frames."""

from __future__ import annotations

import sys
from collections import Counter


def main(path: str, top: int = 30) -> None:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    with open(path) as stacks:
        lines = stacks.readlines()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        self_time[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    print(f"samples: {total}")
    print("-- self --")
    for frame, n in self_time.most_common(top):
        print(f"{100 * n / total:5.1f}%  {frame}")
    print("-- inclusive (hub code) --")
    ours = [(f, n) for f, n in inclusive.items() if "/hub/" in f or "/keys/" in f]
    for frame, n in sorted(ours, key=lambda x: -x[1])[:top]:
        print(f"{100 * n / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 30)
