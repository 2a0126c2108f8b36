"""Exponential histogram points laid out as explicit buckets of one fixed layout.

An exponential histogram's bucket ``j`` at scale ``s`` holds values in
``(2**(j / 2**s), 2**((j + 1) / 2**s)]``; its offset moves as new extremes come
and its scale falls as the range grows, so two points of one cumulative stream
rarely share a layout. Every point is folded into ``BOUNDS`` (scale 2: buckets
19% wide, from 2**-12 s to 2**12 s, one below and one above), so cumulative
points subtract bucket by bucket and streams of several models add up. Scales
above 2 fold exactly; a scale below 2 (a range wider than 2**40) puts each
bucket's calls at its middle.
"""

from itertools import repeat

SCALE = 2
LOWEST, HIGHEST = -48, 48  # bucket indexes at SCALE: 2**-12 .. 2**12
BOUNDS = tuple(2.0 ** (i / 2**SCALE) for i in range(LOWEST, HIGHEST + 1))
MIN_SCALE, MAX_SCALE = -10, 20  # the data model's range


class BadExponentialPoint(ValueError):
    """An exponential histogram point that contradicts itself; the message says how."""


def explicit_buckets(point) -> tuple[int, ...]:
    """The point's counts in ``BOUNDS``' buckets (zero and negative values in the first)."""
    if not MIN_SCALE <= point.scale <= MAX_SCALE:
        raise BadExponentialPoint(f"scale {point.scale} is outside {MIN_SCALE}..{MAX_SCALE}")
    positive, negative = point.positive, point.negative
    below = point.zero_count + sum(negative.bucket_counts)
    if below + sum(positive.bucket_counts) != point.count:
        raise BadExponentialPoint(
            f"zero, positive and negative buckets add up to "
            f"{below + sum(positive.bucket_counts)}, not the count {point.count}"
        )
    counts = [below, *repeat(0, len(BOUNDS))]
    for index, count in enumerate(positive.bucket_counts, positive.offset):
        if count:
            counts[_slot(_at_scale(index, point.scale))] += count
    return tuple(counts)


def _at_scale(index: int, scale: int) -> int:
    """The bucket at ``SCALE`` holding bucket ``index`` at ``scale`` (or its middle)."""
    if scale >= SCALE:
        return index >> (scale - SCALE)  # a floor, negative indexes included
    width = 1 << (SCALE - scale)
    return index * width + width // 2


def _slot(index: int) -> int:
    """Where the bucket ``(2**(index/4), 2**((index+1)/4)]`` sits in ``BOUNDS``' counts."""
    return min(max(index - LOWEST + 1, 0), len(BOUNDS))
