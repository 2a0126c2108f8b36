"""Command line entry point of immune-control."""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run immune-control."""
    parser = argparse.ArgumentParser(
        prog="immune-control", description="Immune: the central control service."
    )
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
