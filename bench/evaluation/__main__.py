"""Run the evaluation and print its tables (``make eval``; ``--help`` for the knobs)."""

import argparse
import math
import sys
import time

from immune_sidecar.detect import BaselineSettings

from . import detection, fleet, healing, scoring
from .scenario import generate

CONFIGS = {
    "A: one sample ≥4.5σ (default)": BaselineSettings(),
    "B: ≥6σ, or lasting (CUSUM 1.5σ/8)": BaselineSettings(
        sigma_threshold=6.0, cusum_slack=1.5, cusum_limit=8.0
    ),
    "C: ≥8σ, or lasting (CUSUM 1.5σ/6), p95 lasting only": BaselineSettings(
        sigma_threshold=8.0, cusum_slack=1.5, cusum_limit=6.0, lasting_only=("latency_p95",)
    ),
}


def main(argv: list[str] | None = None) -> int:
    """Detection, healing-policy and fleet-safety tables for one seed."""
    args = _parser().parse_args(argv)
    started = time.monotonic()
    if "detection" in args.parts:
        _detection(args)
    if "healing" in args.parts:
        _healing(args)
    if "fleet" in args.parts:
        _fleet(args)
    print(f"\n(seed {args.seed}; {time.monotonic() - started:.0f} s)")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.evaluation", description=__doc__)
    p.add_argument("parts", nargs="*", default=["detection", "healing", "fleet"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--agents", type=int, default=24, help="agents in the detection fleet")
    p.add_argument("--hours", type=float, default=8.0, help="simulated hours (60 s intervals)")
    p.add_argument("--cases", type=int, default=600, help="incidents in the healing run")
    p.add_argument("--workers", type=int, default=2, help="processes for detection")
    return p


def _detection(args) -> None:
    scenario = generate(args.seed, args.agents, args.hours)
    print(f"Detection: {len(scenario.agents)} agents × {args.hours:g} h "
          f"({scenario.agent_hours:.0f} agent-hours), {len(scenario.episodes)} faults")  # fmt: skip
    alarms = detection.run(scenario, CONFIGS, args.workers)
    scores = {name: scoring.score(scenario, found) for name, found in alarms.items()}
    _table(
        ["configuration", "recall", "recall ≥3σ", "median TTD", "step TTD", "p90 TTD",
         "false/1000 h"],
        [[name, f"{s.recall:.2f}", f"{s.big_recall:.2f} ({s.big_detected}/{s.big_episodes})",
          _delay(s.median_delay, s), _delay(s.median_step_delay, s),
          _delay(s.delay_quantile(0.9), s),
          f"{s.false_per_1000_hours:.0f} ({s.false_alarms})"] for name, s in scores.items()],
    )  # fmt: skip
    for name, s in scores.items():
        print(f"\n  {name}: per anomaly type")
        _table(
            ["anomaly", "precision", "recall", "F1", "alarms", "faults"],
            [[t.anomaly, f"{t.precision:.2f}", f"{t.recall:.2f}", f"{t.f1:.2f}",
              str(t.alarms), str(t.episodes)] for t in s.types],
            indent=4,
        )  # fmt: skip


def _delay(intervals: float, s: scoring.DetectionScore) -> str:
    if math.isinf(intervals):
        return "—"
    return f"{intervals:g} ({intervals * s.interval_seconds:.0f} s)"


def _healing(args) -> None:
    cases = healing.cases(args.seed, args.cases)
    print(f"\nHealing: {len(cases)} incidents on 50 agents, "
          f"{sum(not c.cures for c in cases)} with no cure")  # fmt: skip
    rows = []
    for policy in healing.POLICIES:
        s = healing.score(policy, healing.run(policy, cases, args.seed))
        rows.append([policy, f"{s.mean_actions:.2f}", f"{s.warm_mean_actions:.2f}",
                     f"{s.mean_minutes_held:.1f}", f"{s.healed_share:.2f}",
                     f"{s.escalated_share:.2f}"])  # fmt: skip
    _table(["policy", "actions", "actions (known)", "min held", "healed", "to a human"], rows)


def _fleet(args) -> None:
    print("\nFleet safety: a shared provider slows down for 80% of 40 agents")
    rows = []
    for cap in (0.3, 1.0):
        s = fleet.run(cap, seed=args.seed)
        label = "cap 30%" if cap < 1 else "cap off"
        rows.append([label, f"{s.lowest:.2f}", f"{s.last:.2f}", f"{s.struck}/{s.agents}"])
    _table(["quarantine cap", "lowest serving", "serving at end", "struck"], rows)


def _table(header: list[str], rows: list[list[str]], indent: int = 2) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print(" " * indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    sys.exit(main())
