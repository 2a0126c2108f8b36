"""Command line entry point of immune-demo."""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run immune-demo."""
    parser = argparse.ArgumentParser(
        prog="immune-demo", description="Immune: the simulated demo fleet."
    )
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
