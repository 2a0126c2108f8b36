"""Run the evaluation and print its tables (``make eval``; ``--help`` for the knobs)."""

import argparse
import math
import sys
import time

from immune_sidecar.detect import BaselineSettings

from . import creeps, days, detection, fleet, healing, scoring
from .scenario import WIDER, Noise, generate

DEFAULT = "default"
TUNED, HELD_OUT = (1, 2, 6), (7, 8, 9)  # the detector was tuned looking at 1, 2 and 6 only
WIDER_SEEDS = (3, 4)  # fleets with wider noise than any tuned on (bursts were designed on 1, 2)


def main(argv: list[str] | None = None) -> int:
    """Detection, healing-policy and fleet-safety tables for one seed."""
    args = _parser().parse_args(argv)
    started = time.monotonic()
    if "detection" in args.parts:
        _detection(args)
    if "creeps" in args.parts:
        _creeps(args)
    if "days" in args.parts:
        _days(args)
    if "healing" in args.parts:
        _healing(args)
    if "fleet" in args.parts:
        _fleet(args)
    print(f"\n(seed {args.seed}; {time.monotonic() - started:.0f} s)")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.evaluation", description=__doc__)
    p.add_argument("parts", nargs="*", default=["detection", "creeps", "days", "healing", "fleet"])
    p.add_argument("--seed", type=int, default=1, help="seed of the healing and fleet runs")
    p.add_argument("--tuned", type=_seeds, default=TUNED, help="seeds tuned on (1,2,6)")
    p.add_argument("--held-out", type=_seeds, default=HELD_OUT, help="seeds not tuned on")
    p.add_argument("--wider", type=_seeds, default=WIDER_SEEDS,
                   help="seeds of fleets with wider noise (3,4)")  # fmt: skip
    p.add_argument("--agents", type=int, default=60, help="agents in each detection fleet")
    p.add_argument("--hours", type=float, default=36.0, help="simulated hours (60 s intervals)")
    p.add_argument("--cases", type=int, default=600, help="incidents in the healing run")
    p.add_argument("--series", type=int, default=5, help="series of each daily shape")
    p.add_argument("--creeps", type=int, default=40, help="creeps on each steady level")
    p.add_argument("--workers", type=int, default=2, help="processes for detection")
    return p


def _seeds(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def _detection(args) -> None:
    settings = BaselineSettings()
    print(f"Detection, default configuration ({settings.false_alarms_per_1000_hours:g} false "
          f"quarantines per 1,000 agent-hours designed): {args.agents} agents × {args.hours:g} h "
          "per seed")  # fmt: skip
    rows, pooled, by_seed = [], {}, {}
    groups = (("tuned", args.tuned, Noise()), ("held-out", args.held_out, Noise()),
              ("wider", args.wider, WIDER))  # fmt: skip
    for label, seeds, noise in groups:
        scores = []
        for seed in seeds:
            scenario = generate(seed, args.agents, args.hours, noise=noise)
            found = detection.run(scenario, {DEFAULT: settings}, args.workers)[DEFAULT]
            budget = settings.false_alarms_per_1000_hours
            scores.append(scoring.score(scenario, found, budget=budget))
            rows.append(_row(f"{seed} ({label})", scores[-1]))
        if scores:
            pooled[label], by_seed[label] = scoring.pool(scores), scores
            rows.append(_row(f"all {label}", pooled[label]))
    _table(["seed", "agent-h", "faults", "false", "false/1000 h (95%)", "recall ≥3σ (95%)", "TTD",
            "step ≥5σ TTD", "5%/interval TTD (bound)", "p90 TTD", "shared"], rows)  # fmt: skip
    for label, s in pooled.items():
        print(f"\n  {label} seeds: faults ≥3σ by kind; alarms by the anomaly they name; faults "
              "≥3σ by the calls an interval their agent made; creeps a vital alone shows, by "
              "its healthy σ between intervals over its level")  # fmt: skip
        lowest = _lowest_right_type(by_seed[label])
        _table(
            ["fault", "faults", "recall", "right-type recall", "lowest seed"],
            [[k.kind, str(k.episodes), f"{k.recall:.3f}", f"{k.right_type_recall:.3f}",
              f"{lowest[k.kind]:.3f}"] for k in s.kinds],
            indent=4,
        )  # fmt: skip
        _table(
            ["anomaly", "alarms", "precision"],
            [[t.anomaly, str(t.alarms), f"{t.precision:.3f}"] for t in s.types],
            indent=4,
        )  # fmt: skip
        bands = {b.kind: b for b in s.bands}
        _table(
            ["calls an interval", "faults", "recall"],
            [[band, str(bands[band].episodes), f"{bands[band].recall:.3f}"]
             for _, band in scoring.CALL_BANDS if band in bands],
            indent=4,
        )  # fmt: skip
        if creeps := s.creeps_by_spread():
            _table(
                ["5%/interval creeps by σ/level", "faults", "caught", "TTD (bound)"],
                [[c.band, str(c.faults), str(c.caught), f"{_delay(c.delay)} ({_delay(c.bound)})"]
                 for c in creeps],
                indent=4,
            )  # fmt: skip


def _lowest_right_type(scores: list[scoring.DetectionScore]) -> dict[str, float]:
    """Per fault kind, the lowest right-type recall of any one seed."""
    lowest: dict[str, float] = {}
    for s in scores:
        for k in s.kinds:
            lowest[k.kind] = min(lowest.get(k.kind, 1.0), k.right_type_recall)
    return lowest


def _row(label: str, s: scoring.DetectionScore) -> list[str]:
    low, high = s.false_interval
    r_low, r_high = s.big_recall_interval
    return [label, f"{s.healthy_agent_hours:.0f}", str(s.episodes), str(s.false_alarms),
            f"{s.false_per_1000_hours:.2f} ({low:.2f}–{high:.2f})",
            f"{s.big_recall:.3f} ({r_low:.3f}–{r_high:.3f})", _delay(s.median_delay),
            _delay(s.median_step_delay),
            f"{_delay(s.median_creep_delay)} ({_delay(s.median_creep_bound)})",
            _delay(s.delay_quantile(0.9)), str(s.shared_shifts)]  # fmt: skip


def _delay(intervals: float) -> str:
    return "—" if math.isinf(intervals) else f"{intervals:g}"


def _creeps(args) -> None:
    print(f"\nA 5%/interval creep on a steady level ({creeps.CALLS:g} calls an interval, learned "
          f"for {creeps.LEARN} intervals), median intervals to detect of {args.creeps}: the "
          "detector; on the creep's exact z-scores, its own CUSUM and a ramp's matched test; "
          "and the bound of a test that knows the onset")  # fmt: skip
    _table(["σ between intervals (log)", "detector", "its CUSUM, exact", "ramp test, exact",
            "bound"], [[f"{r.spread:.2f}", *(_delay(d) for d in r[1:])]
                       for r in creeps.run(runs=args.creeps)])  # fmt: skip


def _days(args) -> None:
    seeds = range(1, args.series + 1)
    print(f"\nDaily and weekly patterns, the detector driven directly as a public series "
          f"is: {len(seeds)} series of each shape × {days.DAYS} days at 5 min, a fault of an hour "
          f"({days.FAULT_FACTOR:g}×) every {days.FAULT_EVERY_DAYS:g} days or so from day "
          f"{days.FROM_DAY}; false alarms from day {days.FROM_DAY} (weekly shapes: from day "
          f"{days.FROM_WEEK}, their week judged from the third)")  # fmt: skip
    rows = [days.run(shape, seeds) for shape in days.SHAPES]
    _table(["series", "hours", "false", "false/1000 h", "faults", "caught"], [
        [r.shape, f"{r.hours:.0f}", str(r.false_alarms), f"{1000 * r.false_alarms / r.hours:.1f}",
         str(r.faults), f"{r.caught / max(r.faults, 1):.3f}"] for r in rows])  # fmt: skip


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
