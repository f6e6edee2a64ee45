"""Similar error groups, ranked by a score over type, root frame, template and stack.

``score = 0.3 * same type + 0.3 * same root frame + 0.2 * template token overlap
+ 0.2 * stack overlap`` (overlaps are Jaccard indexes of the template's words and of the
fingerprint's frame components).  Groups scoring at least :data:`MIN_SCORE` are listed,
best first, with their counts and latest resolution.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from otel_workflow.diagnosis.history import Group
from otel_workflow.diagnosis.model import SimilarGroup

MIN_SCORE = 0.35
MAX_SIMILAR = 5
_WORD = re.compile(r"<\w+>|\w+")


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def score(a: Group, b: Group) -> float:
    same_type = a.type_name.rsplit(".", 1)[-1] == b.type_name.rsplit(".", 1)[-1]
    same_root = a.root_frame is not None and a.root_frame == b.root_frame
    words = _jaccard(set(_WORD.findall(a.template)), set(_WORD.findall(b.template)))
    frames_a = {c for c in a.components if c.startswith("frame:")}
    frames_b = {c for c in b.components if c.startswith("frame:")}
    stack = _jaccard(frames_a, frames_b) if frames_a or frames_b else 0.0
    return round(0.3 * same_type + 0.3 * same_root + 0.2 * words + 0.2 * stack, 3)


def similar_groups(target: Group, others: Iterable[Group],
                   resolutions: dict[str, str]) -> list[SimilarGroup]:  # fmt: skip
    ranked = []
    for other in others:
        if other.fingerprint == target.fingerprint:
            continue
        s = score(target, other)
        if s >= MIN_SCORE:
            ranked.append(SimilarGroup(
                other.fingerprint, s, other.type_name, other.template, other.count,
                resolutions.get(other.fingerprint),
            ))  # fmt: skip
    ranked.sort(key=lambda g: (-g.score, -g.count))
    return ranked[:MAX_SIMILAR]
