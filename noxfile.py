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
    session.run("pytest", *session.posargs)


@nox.session
def scenarios(session: nox.Session) -> None:
    """Every scenario file (scenarios/*.toml) as a test, through the package's pytest plugin, two at a time."""
    session.install("-e", ".", *_group("tests"), "pytest-xdist")
    session.run("pytest", "scenarios/", "-n", "2", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    session.install("-e", ".", *_group("bench"))
    session.run("python", "-m", "benchmarks", *session.posargs)
