"""The YAML mapping file: extra or replaced metric rules, prices, prompt-hash keys.

```yaml
metrics:            # each replaces the default rules of the metrics it names
  - name: myagent.tool.invocations
    role: tool_count
  - name: http.client.request.duration
    role: retry
    where: {http.request.resend_count: {gt: 0}}
prices:             # USD per million tokens, matched by longest model-name prefix
  my-finetune: {input: 1.5, output: 6}
prompt_keys: [app.prompt.version]
```
"""

from typing import NamedTuple

from immune_common.config import ConfigError, read_yaml

from .mapper import DEFAULT_PROMPT_KEYS
from .prices import PriceTable
from .rules import RuleBook, parse_rules

KEYS = ("metrics", "prices", "prompt_keys")


class Mapping(NamedTuple):
    """What the mapper needs: rules, prices and the prompt-hash attribute keys."""

    rules: RuleBook
    prices: PriceTable
    prompt_keys: tuple[str, ...]


def default_mapping() -> Mapping:
    """The built-in mapping."""
    return Mapping(RuleBook.with_overrides([]), PriceTable.with_overrides({}), DEFAULT_PROMPT_KEYS)


def load_mapping(path: str) -> Mapping:
    """The defaults overlaid by a mapping file; ConfigError names any bad entry."""
    if not path:
        return default_mapping()
    data = read_yaml(path)
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]} (known: {', '.join(KEYS)})")
    rules = RuleBook.with_overrides(parse_rules(data.get("metrics", []), f"{path}: metrics"))
    prices = data.get("prices", {})
    if not isinstance(prices, dict) or not all(isinstance(p, dict) for p in prices.values()):
        raise ConfigError(f"{path}: prices must map a model to {{input: X, output: Y}}")
    try:
        table = PriceTable.with_overrides(prices)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: prices: {exc}") from None
    keys = data.get("prompt_keys", list(DEFAULT_PROMPT_KEYS))
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f"{path}: prompt_keys must be a list of attribute keys")
    return Mapping(rules, table, tuple(keys))
