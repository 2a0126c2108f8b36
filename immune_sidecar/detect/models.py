"""The LLM models an agent uses while healthy, and what a million of their tokens cost."""

from collections.abc import Mapping
from typing import Any

from .settings import BaselineSettings


class ModelBaseline:
    """The models an agent used while healthy and their prices (USD a million tokens).

    A model's price is a step, not a noisy level: a model the agent never used, dearer
    than ``price_jump`` times the dearest it uses, is a cost spike at once, while calls
    routed among the models it uses (a cheap one, and now and then a dear one) are no
    spike however the interval's mix falls. A sample none of whose models the agent used
    is a move: the models it left are forgotten at once, so that a later move is judged
    from the price it pays. A move to a sibling (a model within ``price_jump`` of a known
    one's price: an upgrade) left that one alone, and a router keeps its dear tier; any
    other move left them all. A model absent for ``FORGET_GAPS`` times its usual gap
    between uses is forgotten too (the one left by a move within a sample); gaps are
    counted in the agent's calls, so that a quiet hour forgets nothing, and one used
    rarely is kept. Until the agent was watched for ``lasting_after`` samples, only a move
    is judged: a dear model it routes a call to now and then is known by then."""

    FORGET_GAPS = 10
    MAX_KNOWN = 16

    def __init__(
        self, known: dict[str, list[float]] | None = None, n: int = 0, calls: float = 0.0
    ) -> None:
        # model → [price, samples it was used in, the agent's calls when first and last used]
        self.known = known or {}
        self.n = n
        self.calls = calls

    def learned(self, s: BaselineSettings) -> bool:
        """Whether enough samples named their models for a move to be judged."""
        return self.n >= s.min_samples and bool(self.known)

    def ceiling(self) -> tuple[str, float]:
        """The dearest model the agent uses, and its price."""
        if not self.known:
            return "", 0.0
        model = max(self.known, key=lambda m: self.known[m][0])
        return model, self.known[model][0]

    def dearer(
        self, prices: Mapping[str, float], jump: float, s: BaselineSettings
    ) -> tuple[str, float] | None:
        """The dearest model of ``prices`` the agent never used, with its price, when it is
        at least ``jump`` times as dear as the dearest it uses."""
        if not self.learned(s):
            return None
        if self.n < s.lasting_after and any(model in self.known for model in prices):
            return None  # young, a new model beside known ones may be a router's dear one
        new = {model: price for model, price in prices.items() if model not in self.known}
        if not new:
            return None
        model = max(new, key=new.__getitem__)
        return (model, new[model]) if new[model] >= jump * self.ceiling()[1] else None

    def learn(self, prices: Mapping[str, float], calls: float, jump: float) -> None:
        """Take in the models of a healthy sample of ``calls`` calls (none: it says nothing
        of them); ``jump``: the price ratio within which a model is a sibling."""
        if not prices:
            return
        self.n += 1
        self.calls += max(calls, 1.0)
        if not any(model in self.known for model in prices):
            self._moved(prices, jump)
        for model, price in prices.items():
            entry = self.known.setdefault(model, [price, 0.0, self.calls, self.calls])
            entry[0], entry[1], entry[3] = price, entry[1] + 1, self.calls
        self._forget()

    def _moved(self, prices: Mapping[str, float], jump: float) -> None:
        """Forget the models a move left: the new models' siblings, or else all."""
        left = {
            model for model, (price, *_) in self.known.items()
            if any(max(price, new) < jump * min(price, new) for new in prices.values())
        }  # fmt: skip
        self.known = {m: e for m, e in self.known.items() if m not in left} if left else {}

    def _forget(self) -> None:
        for model, (_, uses, first, last) in list(self.known.items()):
            usual_gap = (self.calls - first) / uses
            if self.calls - last > self.FORGET_GAPS * usual_gap:
                del self.known[model]
        while len(self.known) > self.MAX_KNOWN:
            del self.known[min(self.known, key=lambda model: self.known[model][3])]

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state file."""
        return {"known": self.known, "n": self.n, "calls": self.calls}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> "ModelBaseline":
        """Restore from ``to_json`` output (None: a state file written before models)."""
        if data is None:
            return cls()
        known = {str(m): [float(x) for x in entry] for m, entry in data["known"].items()}
        return cls(known, int(data["n"]), float(data["calls"]))
