"""Command line entry point of immune-sidecar."""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run immune-sidecar."""
    parser = argparse.ArgumentParser(prog="immune-sidecar")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
