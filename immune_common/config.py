"""Load a frozen config dataclass from defaults, a YAML file, IMMUNE_* environment
variables and command-line flags, in rising precedence, naming any bad key."""

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
ENV_PREFIX = "IMMUNE_"


class ConfigError(ValueError):
    """A config value or key is wrong; the message names it."""


def load(
    cls: type[T],
    *,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    yaml_path: str | None = None,
) -> T:
    """Build ``cls`` from its defaults overlaid by YAML, then env, then flags."""
    values: dict[str, Any] = read_yaml(yaml_path) if yaml_path else {}
    for name in _field_names(cls):
        raw = (env or {}).get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = raw
    values.update({k: v for k, v in (flags or {}).items() if v is not None})
    return build(cls, values, prefix="")


def read_yaml(path: str) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping of keys, not {type(data).__name__}"
        )
    return data


def build(cls: type[T], values: Mapping[str, Any], prefix: str) -> T:
    """Instantiate dataclass ``cls`` from ``values``, coercing each field's type."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping")
    hints = typing.get_type_hints(cls)
    names = _field_names(cls)
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]!s} (known: {', '.join(names)})")
    kwargs = {k: coerce(hints[k], v, prefix + k) for k, v in values.items()}
    return cls(**kwargs)


def coerce(hint: Any, value: Any, key: str) -> Any:
    """Convert ``value`` to the type ``hint`` or raise ConfigError naming ``key``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, prefix=key + ".")
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return {str(k): coerce(args[1], v, f"{key}.{k}") for k, v in value.items()}
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return tuple(coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
    return _scalar(hint, value, key)


def _scalar(hint: Any, value: Any, key: str) -> Any:
    if hint is Any:
        return value
    if hint is bool:
        return _boolean(value, key)
    if hint in (int, float):
        return _number(hint, value, key)
    if hint is str:
        if isinstance(value, dict | list):
            raise ConfigError(f"{key}: expected text, got {value!r}")
        return str(value)
    return value


def _boolean(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def _number(hint: type, value: Any, key: str) -> float | int:
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    try:
        number = float(value) if hint is int and isinstance(value, float) else hint(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if hint is int and isinstance(number, float):
        if not number.is_integer():
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        number = int(number)
    if isinstance(number, float) and not math.isfinite(number):
        raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    return number


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


Range = tuple[float, float]  # inclusive bounds of a numeric setting


def check_ranges(settings: Any, prefix: str = "") -> None:
    """Raise ConfigError naming the first setting outside its class's ``RANGES``."""
    for key, (low, high) in getattr(settings, "RANGES", {}).items():
        value = getattr(settings, key)
        if not low <= value <= high:
            raise ConfigError(f"{prefix}{key}: must be within {low:g}–{high:g}, got {value!r}")


LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")


def check_logging(level: str, fmt: str) -> None:
    """Raise ConfigError for a log level or format nobody can read."""
    if level.lower() not in LOG_LEVELS:
        raise ConfigError(f"log_level: expected one of {', '.join(LOG_LEVELS)}, got {level[:40]!r}")
    if fmt not in LOG_FORMATS:
        raise ConfigError(f"log_format: expected one of {', '.join(LOG_FORMATS)}, got {fmt[:40]!r}")


def split_address(address: str, key: str) -> tuple[str, int]:
    """Split ``host:port`` (``[v6]:port`` too), naming ``key`` when malformed."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{key}: expected HOST:PORT, got {address!r}")
    return host.strip("[]") or "0.0.0.0", int(port)
