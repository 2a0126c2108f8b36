"""One agent's detection state (its baselines, its watches, what it is waiting on) and the
form it takes in the state file, including state files written by earlier versions."""

import collections
import dataclasses
import math
from typing import Any, NamedTuple

from ..vitals import VitalSample
from ..vitals.spans import EARLIER_FINGERPRINT
from .baseline import Baseline, LevelBaseline, MeanBaseline, RateBaseline, ShareBaseline
from .evidence import TEST_OF
from .hours import HourlyProfile
from .infection import Anomaly
from .models import ModelBaseline
from .prompts import PromptBaseline
from .settings import BaselineSettings
from .watch import Tally

EVIDENCE_SAMPLES = 5
KINDS: dict[str, type[LevelBaseline] | type[RateBaseline]] = {
    LevelBaseline.kind: LevelBaseline,
    MeanBaseline.kind: MeanBaseline,
    RateBaseline.kind: RateBaseline,
    ShareBaseline.kind: ShareBaseline,
}
LEGACY_CALLS = 20.0  # calls per interval assumed for a baseline written before n was kept


class Streak(NamedTuple):
    """The same lone anomaly alarming again and again: which, how often, when last."""

    kind: str
    count: int
    at: float


class Replaced(NamedTuple):
    """A baseline a lasting shift's adopted level replaced, kept until ``until``, and the
    samples in a row that read back at its level."""

    before: Baseline
    until: float
    back: int = 0

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state file."""
        return {"before": self.before.to_json(), "until": self.until, "back": self.back}


class AgentState:
    """What the detector keeps of one agent."""

    __slots__ = (
        "blind", "days", "deferred", "evidence", "flagged", "held", "models", "previous",
        "prompt", "replaced", "shifted", "streak", "streak_before", "vitals", "watch",
    )  # fmt: skip

    def __init__(self) -> None:
        self.vitals: dict[str, Baseline] = {}
        self.previous: dict[str, Baseline] = {}  # the watch kept while re-learning
        self.watch: dict[str, Tally] = {}  # whether a deploy changed each vital (see ``Tally``)
        self.prompt = PromptBaseline()
        self.models = ModelBaseline()
        self.evidence: collections.deque[VitalSample] = collections.deque(maxlen=EVIDENCE_SAMPLES)
        self.flagged: tuple[str, ...] = ()  # the vitals of the latest infection
        self.shifted: set[str] = set()  # the vitals at SHIFT_Z or more, or half way
        self.blind: set[str] = set()  # the vitals the latest sample could not tell
        self.streak: Streak | None = None
        self.streak_before: Streak | None = None  # as it was before the latest alarm
        self.days: dict[str, HourlyProfile] = {}  # each vital's offset hour by hour (day, week)
        self.replaced: dict[str, Replaced] = {}  # kept while a lasting shift is adopted
        self.deferred: dict[str, Anomaly] = {}  # a young baseline's excursion, unconfirmed
        self.held = 0  # the intervals it has waited

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state file."""
        return {
            "vitals": {v: b.to_json() for v, b in self.vitals.items()},
            "previous": {v: b.to_json() for v, b in self.previous.items()},
            "watch": {v: w.to_json() for v, w in self.watch.items()},
            "prompt": self.prompt.to_json(),
            "models": self.models.to_json(),
            "days": {v: d.to_json() for v, d in self.days.items()},
            "replaced": {v: r.to_json() for v, r in self.replaced.items()},
            "deferred": {v: dataclasses.asdict(a) for v, a in self.deferred.items()},
            "held": self.held,
        }

    @classmethod
    def from_json(cls, entry: dict[str, Any], s: BaselineSettings) -> "AgentState":
        """Restore from ``to_json`` output (or from the state of the versions before it).
        Raises ``ValueError`` for a number that is not finite: no state written holds one,
        and a NaN level, taken in, would never alarm again."""
        _require_finite(entry, "")
        state = cls()
        state.vitals = _baselines(entry["vitals"], s)
        state.previous = _baselines(entry.get("previous", {}), s)
        state.watch = _watch(entry.get("watch", {}), state.vitals, s)  # (none before)
        state.prompt = PromptBaseline.from_json(entry["prompt"])
        state.prompt.forget(EARLIER_FINGERPRINT)
        state.models = ModelBaseline.from_json(entry.get("models"))
        days = entry.get("days", {})  # none in state files written before
        state.days = {v: HourlyProfile.from_json(d) for v, d in days.items()}
        state.replaced = _replaced(entry.get("replaced", {}), s)
        deferred = entry.get("deferred", {})
        state.deferred = {v: Anomaly(**a) for v, a in deferred.items()}
        state.held = int(entry.get("held", 1 if deferred else 0))
        return state


def _require_finite(data: Any, path: str) -> None:
    """Raise ``ValueError`` naming where ``data`` holds a float that is not finite."""
    if isinstance(data, float):
        if not math.isfinite(data):
            raise ValueError(f"{path or 'the entry'} is {data!r}, not a finite number")
    elif isinstance(data, dict):
        for key, value in data.items():
            _require_finite(value, f"{path}/{key}" if path else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            _require_finite(value, f"{path}[{index}]")


def _replaced(entries: dict[str, Any], s: BaselineSettings) -> dict[str, Replaced]:
    befores = _baselines({v: e["before"] for v, e in entries.items()}, s)
    return {
        v: Replaced(b, float(entries[v]["until"]), int(entries[v]["back"]))
        for v, b in befores.items()
    }


def _watch(entries: dict[str, Any], vitals: dict[str, Baseline], s: BaselineSettings):
    """The tallies of a deploy's watch. One whose old baseline is back stores the young
    one, and holds the vital's own as the old (``Tally.to_json``)."""
    tallies: dict[str, Tally] = {}
    for vital, entry in entries.items():
        back = "young" in entry
        stored = _baselines({vital: entry["young" if back else "before"]}, s).get(vital)
        if stored is None or (back and vital not in vitals):
            continue
        before, young = (vitals[vital], stored) if back else (stored, None)
        tallies[vital] = _tally(before, young, *entry["sums"])
    return tallies


def _tally(before, young, gz, gg, most, count, kept_at, zz) -> Tally:
    return Tally(before, young, float(gz), float(gg), float(most), int(count), float(kept_at),
                 float(zz))  # fmt: skip


def _baselines(entries: dict[str, Any], s: BaselineSettings) -> dict[str, Baseline]:
    restored = {}
    for vital, data in entries.items():
        base = _restored(vital, data) if "kind" in data else _legacy(vital, data, s)
        if base is not None:
            restored[vital] = base
    return restored


def _restored(vital: str, data: dict[str, Any]) -> Baseline | None:
    """A baseline from its state, of its test's kind where that refines the stored one (a
    price stored as a plain level by earlier versions); None for a vital no longer judged
    (calls per answer, before answers per call)."""
    test = TEST_OF.get(vital)
    if test is None:
        return None
    kind = KINDS[data["kind"]]
    if issubclass(test.baseline, kind):
        kind = test.baseline
    return kind.from_json(data)


def _legacy(vital: str, data: dict[str, Any], s: BaselineSettings) -> Baseline | None:
    """A baseline from the mean/variance state of earlier versions, learned as it was."""
    test = TEST_OF.get(vital)
    mean, var, n = float(data["mean"]), float(data["var"]), int(data["n"])
    if test is None or n < s.min_samples or mean <= 0:
        return None  # not judged any more (latency_p95), or not learned yet: learn afresh
    if issubclass(test.baseline, LevelBaseline):
        base = test.baseline(math.log(mean), n, calls=[1.0, 1.0 / LEGACY_CALLS])
        base.fit.add(1.0, 1.0 / LEGACY_CALLS, var / (mean * mean), 1.0)
        return base
    exposure = LEGACY_CALLS / s.alpha
    base = RateBaseline(mean * exposure, exposure, n)
    base.fit.add(mean * LEGACY_CALLS, (mean * LEGACY_CALLS) ** 2, var * LEGACY_CALLS**2, 1.0)
    return base
