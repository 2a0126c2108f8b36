"""Command line entry point of immune-demo: the whole system on one machine, with chaos."""

import argparse
import logging
import signal
import sys
import threading

from immune_common import logs

from .chaos import schedule, write_log
from .fleet import DemoFleet
from .stack import Stack, StackConfig

log = logging.getLogger("immune_demo")


def parser() -> argparse.ArgumentParser:
    """The demo's flags."""
    p = argparse.ArgumentParser(
        prog="immune-demo",
        description="Immune's demo: control (DuckDB), a sidecar per agent, a simulated fleet "
        "exporting real OTLP, and the console. Chaos injects every fault kind on a schedule "
        "(chaos.json in the data dir lists it). Ctrl-C stops everything.",
    )
    p.add_argument("--agents", type=int, default=15, help="how many agents (15)")
    p.add_argument("--no-chaos", dest="chaos", action="store_false", help="no faults")
    p.add_argument("--duration", type=float, default=0, help="seconds to run (0: until Ctrl-C)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds per export interval (2)")
    p.add_argument("--warmup", type=int, default=15, help="intervals before the first fault (15)")
    p.add_argument("--spacing", type=int, default=8, help="intervals between faults (8)")
    p.add_argument("--data-dir", default="./data/demo", help="state, wiped at start (./data/demo)")
    p.add_argument("--control-port", type=int, default=50051, help="control's gRPC port (50051)")
    p.add_argument("--metrics-port", type=int, default=9465, help="control's /metrics port (9465)")
    p.add_argument("--console-port", type=int, default=8090, help="the console's port (8090)")
    p.add_argument("--no-console", dest="console", action="store_false", help="no console")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the demo until the duration is over or Ctrl-C."""
    args = parser().parse_args(argv)
    if args.agents < 1 or args.interval <= 0:
        parser().error("--agents must be at least 1 and --interval positive")
    logs.setup("warning", "text")
    config = StackConfig(
        agents=args.agents,
        data_dir=args.data_dir,
        control_port=args.control_port,
        metrics_port=args.metrics_port,
        console_port=args.console_port,
        console=args.console,
        interval_seconds=args.interval,
    )
    stack = Stack(config)
    stop = threading.Event()
    # Ctrl-C and SIGTERM stop the demo alike, also when it was started with SIGINT ignored
    # (as a shell's background job is, and everything it starts).
    for stopping in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stopping, lambda *_: stop.set())
    try:
        stack.start()
        names = [a.name for a in stack.agents]
        strikes = schedule(names, args.warmup, args.spacing) if args.chaos else []
        write_log(strikes, str(stack.data / "chaos.json"))
        _announce(config, strikes)
        fleet = DemoFleet(stack.agents, strikes, args.interval)
        intervals = round(args.duration / args.interval) if args.duration else 0
        fleet.run(stop, intervals)
    finally:
        print("stopping…", flush=True)
        stack.stop()
    return 0


def _announce(config: StackConfig, strikes) -> None:
    if config.console:
        print(f"console: http://127.0.0.1:{config.console_port}", flush=True)
    target = f"127.0.0.1:{config.control_port}"
    print(f"control: {target} (try: immunectl --control {target} incidents)")
    print(f"{config.agents} agents, {len(strikes)} faults scheduled; Ctrl-C stops", flush=True)


if __name__ == "__main__":
    sys.exit(main())
