"""immunectl: the Immune command line."""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run immunectl."""
    parser = argparse.ArgumentParser(prog="immunectl", description="Immune command line.")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
