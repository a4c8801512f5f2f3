"""Flags and the TOML [load] table: every profile, the mix, thresholds — and errors naming the flag or file key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.load._spec import LoadSpecError, build_spec


def flags(**given: object) -> dict[str, object]:
    return given


def test_each_profile_from_flags() -> None:
    assert build_spec(flags(rate="200/s", duration="60s")).profile.total_arrivals == 12_000  # type: ignore[union-attr]
    ramp = build_spec(flags(ramp_from="0/s", ramp_to="100/s", duration="10s")).profile
    assert ramp is not None
    assert (ramp.kind, ramp.total_arrivals) == ("ramp", 500)
    steps = build_spec(flags(steps="10/s,20/s", step_duration="5s")).profile
    assert steps is not None
    assert (steps.kind, steps.total_arrivals, steps.duration_s) == ("steps", 150, 10.0)
    spike = build_spec(flags(rate="10/s", spike_rate="100/s", spike_at="2s", spike_duration="1s", duration="5s"))
    assert spike.profile is not None
    assert (spike.profile.kind, spike.profile.total_arrivals) == ("spike", 140)
    closed = build_spec(flags(concurrency="8", duration="30s"))
    assert (closed.model, closed.concurrency, closed.duration_s) == ("closed", 8, 30.0)
    adaptive = build_spec(flags(adaptive=True, duration="30s"))
    assert (adaptive.model, adaptive.adaptive, adaptive.concurrency) == ("closed", True, 256)


def test_the_toml_table_with_flags_over_it(tmp_path: Path) -> None:
    file = tmp_path / "load.toml"
    file.write_text(
        '[load]\nprofile = "spike"\nrate = "50/s"\nduration = "60s"\nspike_rate = "500/s"\nspike_at = "20s"\n'
        'spike_duration = "5s"\nmix = { create = 5, fetch = 3, sentences = 1, operator_results = 1 }\n'
        'thresholds = ["p99<800ms", "429_rate<2%"]\nmock_config = "limits.toml"\n',
        encoding="utf-8",
    )
    spec = build_spec(flags(rate="60/s"), file)
    assert spec.profile is not None
    assert spec.profile.kind == "spike"
    assert spec.profile.rate_at(0) == 60.0  # the flag wins
    assert spec.mix == {"create": 5.0, "fetch": 3.0, "sentences": 1.0, "operator_results": 1.0}
    assert [t.expression for t in spec.thresholds] == ["p99<800ms", "429_rate<2%"]
    assert spec.mock_config == tmp_path / "limits.toml"  # relative to the file
    requests, transcripts = spec.planned()
    assert requests == 60 * 55 + 500 * 5 + 10  # arrivals at the flag's base rate and the spike, + prepare
    assert transcripts is not None
    assert transcripts < requests


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[load]\nrate = 'fast'\nduration = '1s'\n", r"\[load\]\.rate 'fast'"),
        ("[load]\nrate = '1/s'\nduraton = '1s'\n", r"\[load\]\.duraton: unknown key"),
        ("[load]\nrate = '1/s'\nduration = '1s'\nthresholds = ['p98<1s']\n", r"\[load\]\.thresholds.*'p98<1s'"),
        ("[load]\nrate = '1/s'\nduration = '1s'\nmix = 'create=x'\n", r"\[load\]\.mix.*weight of 'create'"),
        ("[load]\nrate = '1/s'\nduration = '1s'\nmax_in_flight = 0\n", r"\[load\]\.max_in_flight 0"),
        ("[load]\nprofile = 'wave'\nrate = '1/s'\n", r"\[load\]\.profile 'wave'"),
        ("[other]\n", r"no \[load\] table"),
        ("[load\n", "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(LoadSpecError, match=message) as error:
        build_spec({}, file)
    assert str(file) in str(error.value)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (flags(rate="200/s"), "constant profile needs --duration"),
        (flags(rate="-5/s", duration="1s"), "--rate '-5/s'"),
        (flags(duration="10s"), "no load model"),
        (flags(rate="1/s", duration="1s", concurrency="4"), "--concurrency and --rate: choose"),
        (flags(concurrency="4"), "closed model needs --duration"),
        (flags(steps="10/s,fast", step_duration="1s"), "--steps: 'fast'"),
        (flags(rate="1/s", spike_rate="9/s", spike_at="5s", spike_duration="9s", duration="6s"), "spike"),
        (flags(rate="1/s", duration="1s", mix="delete=1"), "--mix 'delete=1'.*unknown operation"),
        (flags(rate="1/s", duration="1s", thresholds=["p99<"]), "--threshold: .*'p99<'"),
    ],
)
def test_bad_flags_are_refused_naming_the_flag(given: dict[str, object], message: str) -> None:
    with pytest.raises(LoadSpecError, match=message):
        build_spec(given)
