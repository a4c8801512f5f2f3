"""The `cintel` command line (`main(argv) -> int`); exit codes in `harness.cli._exit`, documented in the README."""

from harness.cli._main import main

__all__ = ["main"]
