"""ECharts options built from API messages: plain dicts, no UI."""

from collections import defaultdict
from collections.abc import Iterable

from immune_sdk import names

# Width of the baseline band drawn around the learned mean.
BAND_SIGMAS = 3.0


def millis(ts) -> int:
    """A protobuf Timestamp as epoch milliseconds."""
    return ts.seconds * 1000 + ts.nanos // 1_000_000


def vitals_shown(samples: Iterable) -> list[str]:
    """The vitals present in any sample, in a stable order."""
    return sorted({vital for s in samples for vital in s.values})


def latency_note(samples: list) -> str:
    """Why the newest sample with a latency has no p95 or median ('' when it has them): the
    instrumentation's histogram buckets were too coarse to locate them."""
    latest = next((s for s in reversed(samples) if "latency" in s.values), None)
    if latest is None or "latency_median" in latest.values:
        return ""
    return (
        "Latency buckets too coarse to locate a p95 or median (the instrumentation's "
        "histogram boundaries): only the mean latency is shown and judged."
    )


def anomaly_marks(incidents: Iterable, vital: str) -> list[dict]:
    """One mark per anomaly of this vital: at the incident's detection, at the observed value."""
    return [
        {
            "name": names.name(names.ANOMALY, a.type) or "anomaly",
            "coord": [millis(i.detect_time), a.observed],
            "value": f"{a.sigma:.1f}σ",
        }
        for i in incidents
        for a in i.anomalies
        if a.vital == vital
    ]


def vital_chart(vital: str, samples: Iterable, baseline, marks: list[dict]) -> dict:
    """A time series of one vital with its baseline band and the anomalies marked."""
    points = [[millis(s.time), s.values[vital]] for s in samples if vital in s.values]
    series = [
        {
            "name": vital,
            "type": "line",
            "showSymbol": False,
            "data": points,
            "markPoint": {"symbol": "pin", "itemStyle": {"color": "#c10015"}, "data": marks},
        }
    ]
    if baseline is not None and baseline.learned:
        series = _band(baseline, points) + series
    return {
        "animation": False,
        "title": {"text": vital, "textStyle": {"fontSize": 13}},
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 50, "right": 16, "top": 36, "bottom": 28},
        "xAxis": {"type": "time"},
        "yAxis": {"type": "value", "scale": True},
        "series": series,
    }


def _band(baseline, points: list) -> list[dict]:
    """Two stacked lines: an invisible floor and the band's height, filled."""
    low = baseline.mean - BAND_SIGMAS * baseline.stddev
    height = 2 * BAND_SIGMAS * baseline.stddev
    times = [p[0] for p in points]
    common = {"type": "line", "stack": "band", "showSymbol": False, "silent": True}
    return [
        {
            **common,
            "name": "band floor",
            "data": [[t, low] for t in times],
            "lineStyle": {"opacity": 0},
        },
        {
            **common,
            "name": f"baseline ±{BAND_SIGMAS:g}σ",
            "data": [[t, height] for t in times],
            "lineStyle": {"opacity": 0},
            "areaStyle": {"color": "rgba(33, 186, 69, 0.18)"},
        },
    ]


def patterns_chart(entries: Iterable) -> dict:
    """Success rate of each action, one bar series per diagnosis."""
    by_diagnosis: dict[str, dict[str, float]] = defaultdict(dict)
    actions: set[str] = set()
    for e in entries:
        action = names.name(names.ACTION, e.action)
        by_diagnosis[names.name(names.DIAGNOSIS, e.diagnosis)][action] = round(e.success_rate, 3)
        actions.add(action)
    order = sorted(actions)
    series = [
        {"name": d, "type": "bar", "data": [rates.get(a) for a in order]}
        for d, rates in sorted(by_diagnosis.items())
    ]
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "bottom": 0},
        "grid": {"left": 40, "right": 16, "top": 16, "bottom": 56},
        "xAxis": {"type": "category", "data": order, "axisLabel": {"interval": 0, "rotate": 20}},
        "yAxis": {"type": "value", "min": 0, "max": 1, "name": "success rate"},
        "series": series,
    }
