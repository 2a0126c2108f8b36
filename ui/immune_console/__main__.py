"""Command line entry point of immune-console."""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run immune-console."""
    parser = argparse.ArgumentParser(
        prog="immune-console", description="Immune: the operator console."
    )
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
