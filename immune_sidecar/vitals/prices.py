"""Per-model token prices, for a cost vital where the agent emits no cost."""

from collections.abc import Mapping
from typing import NamedTuple


class Price(NamedTuple):
    """USD per million input and output tokens."""

    input_per_million: float
    output_per_million: float


# List prices at the time of writing; override or extend with `prices:` in YAML.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1": Price(2.00, 8.00),
    "o3-mini": Price(1.10, 4.40),
    "claude-3-5-haiku": Price(0.80, 4.00),
    "claude-haiku-4": Price(1.00, 5.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-opus-4": Price(15.00, 75.00),
    "gemini-2.0-flash": Price(0.10, 0.40),
    "gemini-2.5-pro": Price(1.25, 10.00),
    "mistral-large": Price(2.00, 6.00),
}

MAX_CACHED_MODELS = 4096
PRICE_MIX = 0.75  # the input share of tokens at which a model's price per token is weighed


class PriceTable:
    """Looks a model up by the longest known prefix of its name."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = dict(prices)
        self._by_length = sorted(self._prices, key=len, reverse=True)
        self._cache: dict[str, Price | None] = {}

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, Mapping[str, float]]) -> "PriceTable":
        """The defaults with ``{model: {input: x, output: y}}`` entries laid over."""
        prices = dict(DEFAULT_PRICES)
        for model, p in overrides.items():
            price = Price(float(p.get("input", 0.0)), float(p.get("output", 0.0)))
            if not all(0.0 <= v < 1e6 for v in price):  # NaN fails this too
                raise ValueError(f"{model}: prices are USD per million tokens, 0 up to 1e6")
            prices[model] = price
        return cls(prices)

    def price(self, model: str) -> Price | None:
        """The price of ``model``, or None when unknown."""
        if model not in self._cache:
            if len(self._cache) >= MAX_CACHED_MODELS:  # model names come from the agents
                self._cache.clear()
            match = next((m for m in self._by_length if model.startswith(m)), None)
            self._cache[model] = self._prices[match] if match else None
        return self._cache[model]

    def per_million(self, model: str) -> float | None:
        """USD for a million tokens of ``model`` at the fixed mix (``PRICE_MIX`` of them
        input): its price per token, whatever a conversation reads or writes; None when
        the model has no price."""
        return self.cost(model, PRICE_MIX * 1e6, (1 - PRICE_MIX) * 1e6)

    def cost(self, model: str, input_tokens: float, output_tokens: float) -> float | None:
        """USD for the tokens, or None when the model has no price."""
        p = self.price(model)
        if p is None:
            return None
        return (input_tokens * p.input_per_million + output_tokens * p.output_per_million) / 1e6
