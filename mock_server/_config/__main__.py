"""`python -m mock_server._config --schema | --markdown`: the configuration's JSON Schema, or its reference table.

The schema is committed as harness/scenarios/mock_config.schema.json (the scenario validator may not import the
mock); tests/mock_server/test_config_schema.py fails when that copy is out of date.
"""

from __future__ import annotations

import argparse
import sys

from mock_server._config._reference import markdown, schema_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mock_server._config", description=__doc__.split("\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--schema", action="store_true", help="print the JSON Schema of the configuration")
    what.add_argument("--markdown", action="store_true", help="print the reference table (every key) in Markdown")
    args = parser.parse_args(argv)
    sys.stdout.write(schema_text() if args.schema else markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
