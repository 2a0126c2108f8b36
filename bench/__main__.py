"""Run every benchmark and print its figures (``make bench``)."""

import json
import logging
import sys

from . import control, gate, machine, sidecar


def main() -> int:
    """Print the figures (``python -m bench [sidecar|gate|control] [--json]``)."""
    logging.disable(logging.WARNING)
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    figures = machine.run()
    if not only or "sidecar" in only:
        figures |= sidecar.run()
    if not only or "gate" in only:
        figures |= gate.run()
    if not only or "control" in only:
        figures |= control.run()
    figures |= {"machine after": machine.run()["machine"]}
    if "--json" in sys.argv:
        print(json.dumps(figures, indent=2))
        return 0
    for section, values in figures.items():
        print(section)
        for key, value in values.items():
            print(f"  {key:<30} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
