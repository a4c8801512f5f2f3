"""Sessions: `nox` runs lint, typecheck, tests and scenarios; `nox -s bench` runs the benchmarks (not a default)."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "scenarios"]
nox.options.default_venv_backend = "venv"

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session
def lint(session: nox.Session) -> None:
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".", *_group("typecheck"))
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".", *_group("tests"))
    # pytest-xdist: every test makes its own accounts, ports and files, so they run side by side (at most 4 workers:
    # each may start the mock's media worker processes too)
    session.run("pytest", "-n", "auto", "--maxprocesses", "4", *session.posargs)


@nox.session
def scenarios(session: nox.Session) -> None:
    """Every scenario file (scenarios/*.toml) as a test, through the package's pytest plugin, two at a time."""
    session.install("-e", ".", *_group("tests"))
    session.run("pytest", "scenarios/", "-n", "2", *session.posargs)


@nox.session
def load(session: nox.Session) -> None:
    """A short `cintel load` against the embedded mock: a spike with the operation mix and thresholds (exit 99 when
    one is crossed); the report in .nox/load-report/. Arguments after `--` replace the profile: `nox -s load -- --rate
    100/s --duration 30s`."""
    session.install("-e", ".")
    profile = session.posargs or [
        "--rate", "50/s", "--spike-rate", "200/s", "--spike-at", "4s", "--spike-duration", "2s", "--duration", "10s",
        "--mix", "create=5,fetch=3,sentences=1,operator_results=1",
        "--threshold", "p99<500ms", "--threshold", "429_rate<1%", "--threshold", "goodput>0.99",
    ]  # fmt: skip
    session.run("cintel", "load", "--out", ".nox/load-report", *profile)


@nox.session
def bench(session: nox.Session) -> None:
    session.install("-e", ".", *_group("bench"))
    session.run("python", "-m", "benchmarks", *session.posargs)
