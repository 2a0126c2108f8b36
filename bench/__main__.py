"""Run every benchmark and print its figures (``make bench``)."""

import json
import logging
import sys

from . import sidecar


def main() -> int:
    """Print the sidecar figures as a table, and as JSON with ``--json``."""
    logging.disable(logging.WARNING)
    figures = sidecar.run()
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
