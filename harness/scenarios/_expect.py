"""Judging a scenario: what it expected (`Expect`) against what was seen (`Observations`), one `Outcome` per
expectation — passed, failed (with what happened instead), or skipped with the reason.

What is seen comes from where a user would look: the batch's journal and results files (statuses, errors,
sentences, metadata), the API (a transcript's participants), and on the mock its control plane (stats, the alert
log). Against Twilio there is no control plane, so expectations only the mock can check — alerts, exactly-once by
the mock's own count, webhook counters, the share of 429s, any stats counter — are listed as skipped, never passed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.scenarios._model_expect import Bound, Expect, ParticipantExpect, SentenceExpect

__all__ = ["ItemResult", "Observations", "Outcome", "evaluate"]

MOCK_ONLY = "only the mock can check this"


@dataclass(frozen=True)
class Outcome:
    label: str  # what is judged: "status of plain"
    expected: str
    actual: str
    verdict: str  # "pass", "fail" or "skip"

    @property
    def failed(self) -> bool:
        return self.verdict == "fail"


@dataclass
class ItemResult:
    """One manifest row as its batch ended: `status` completed, failed, rejected (at load) or not_done."""

    key: str
    status: str
    transcript_sid: str | None = None
    error: str | None = None
    sentences: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Observations:
    target: str
    items: dict[str, ItemResult] = field(default_factory=dict)
    skipped_items: dict[str, str] = field(default_factory=dict)  # key → why this target left it out
    stats: dict[str, Any] | None = None  # the mock's account stats (None off the mock)
    alerts: list[dict[str, Any]] | None = None  # the mock's alert log for the account
    participants: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # key → its transcript's
    submit_s: float = 0.0  # time spent in `cintel submit`, all batches
    unavailable: dict[str, str] = field(default_factory=dict)  # "participants"/"goodput" → why not seen here


def evaluate(expect: Expect, seen: Observations) -> list[Outcome]:
    judge = _Judge(expect, seen)
    return judge.all()


def _verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


class _Judge:
    def __init__(self, expect: Expect, seen: Observations) -> None:
        self.e = expect
        self.seen = seen
        self.out: list[Outcome] = []

    def add(self, label: str, expected: str, actual: str, ok: bool) -> None:
        self.out.append(Outcome(label, expected, actual, _verdict(ok)))

    def skip(self, label: str, expected: str, why: str) -> None:
        self.out.append(Outcome(label, expected, f"skipped: {why}", "skip"))

    def item(self, label: str, expected: str, key: str) -> ItemResult | None:
        """The item `key`, or None after recording a skip (left out on this target) or a failure (never seen)."""
        if key in self.seen.skipped_items:
            self.skip(label, expected, self.seen.skipped_items[key])
            return None
        found = self.seen.items.get(key)
        if found is None:
            self.add(label, expected, "no such item in any batch's results (was it submitted?)", False)
        return found

    def all(self) -> list[Outcome]:
        self._statuses()
        for key, text in self.e.errors.items():
            self._error(key, text)
        self._sentences()
        self._participants()
        for key, wanted in self.e.metadata.items():
            self._metadata(key, wanted)
        self._mock_only()
        if self.e.goodput is not None and "goodput" in self.seen.unavailable:
            self.skip("goodput (completed items per second of cintel submit)", self.e.goodput.describe(),
                      self.seen.unavailable["goodput"])  # fmt: skip
        elif self.e.goodput is not None:
            completed = sum(1 for i in self.seen.items.values() if i.status == "completed")
            rate = completed / self.seen.submit_s if self.seen.submit_s > 0 else 0.0
            actual = f"{_fmt(rate)} ({completed} in {self.seen.submit_s:.1f} s)"
            self.add("goodput (completed items per second of cintel submit)", self.e.goodput.describe(), actual,
                     self.e.goodput.holds(rate))  # fmt: skip
        return self.out

    # --- items ------------------------------------------------------------------------------------------------

    def _statuses(self) -> None:
        for key, status in self.e.statuses.items():
            if key != "*":
                found = self.item(f"status of {key}", status, key)
                if found is not None:
                    error = f" ({found.error})" if found.error and found.status != status else ""
                    self.add(f"status of {key}", status, f"{found.status}{error}", found.status == status)
                continue
            if not self.seen.items and self.seen.skipped_items:
                self.skip("status of every item", status, next(iter(self.seen.skipped_items.values())))
                continue
            others = {k: i.status for k, i in self.seen.items.items() if i.status != status}
            actual = f"all {len(self.seen.items)} {status}" if not others else ", ".join(
                f"{k}: {s}" for k, s in list(others.items())[:10]) + (" …" if len(others) > 10 else "")  # fmt: skip
            self.add("status of every item", status, actual, bool(self.seen.items) and not others)

    def _error(self, key: str, text: str) -> None:
        label, expected = f"error of {key}", f"mentions {text!r}"
        found = self.item(label, expected, key)
        if found is not None:
            error = found.error or "(no error)"
            self.add(label, expected, error[:300], text.lower() in error.lower())

    def _metadata(self, key: str, wanted: Mapping[str, Any]) -> None:
        label, expected = f"metadata of {key}", ", ".join(f"{k}={v!r}" for k, v in wanted.items())
        found = self.item(label, expected, key)
        if found is not None:
            got = {k: found.metadata.get(k) for k in wanted}
            actual = ", ".join(f"{k}={v!r}" for k, v in got.items())
            self.add(label, expected, actual, all(found.metadata.get(k) == v for k, v in wanted.items()))

    def _sentences(self) -> None:
        by_item: dict[str, list[SentenceExpect]] = defaultdict(list)
        for entry in self.e.sentences:
            by_item[entry.item].append(entry)
        for key, wanted in by_item.items():
            wanted = sorted(wanted, key=lambda s: s.at_s)
            tolerance = {s.tolerance_s or self.e.tolerance_s for s in wanted}
            label = f"sentences of {key} (± {'/'.join(f'{t:g}' for t in sorted(tolerance))} s)"
            expected = ", ".join(f"ch{s.channel}@{s.at_s:.2f}" for s in wanted)
            found = self.item(label, expected, key)
            if found is None:
                continue
            if found.sentences is None:
                self.add(label, expected, f"no sentences: the item is {found.status}", False)
                continue
            got = sorted(found.sentences, key=lambda s: float(s.get("start_time") or 0))
            actual = ", ".join(f"ch{s.get('media_channel')}@{float(s.get('start_time') or 0):.2f}" for s in got)
            problems = self._sentence_problems(wanted, got)
            self.add(label, expected, actual + (f" — {problems[0]}" if problems else ""), not problems)

    def _sentence_problems(self, wanted: list[SentenceExpect], got: list[dict[str, Any]]) -> list[str]:
        if len(wanted) != len(got):
            return [f"{len(got)} sentences, expected {len(wanted)}"]
        problems = []
        for n, (w, s) in enumerate(zip(wanted, got, strict=True)):
            start = float(s.get("start_time") or 0)
            tolerance = w.tolerance_s or self.e.tolerance_s
            if str(s.get("media_channel")) != str(w.channel):
                problems.append(f"sentence {n + 1} is on channel {s.get('media_channel')}, not {w.channel}")
            elif abs(start - w.at_s) > tolerance:
                off = abs(start - w.at_s)
                problems.append(f"sentence {n + 1} starts at {start:.3f} s, {off:.3f} s from {w.at_s:g}")
            elif w.text is not None and w.text.lower() not in str(s.get("transcript", "")).lower():
                problems.append(f"sentence {n + 1} does not say {w.text!r}")
        return problems

    def _participants(self) -> None:
        by_item: dict[str, list[ParticipantExpect]] = defaultdict(list)
        for entry in self.e.participants:
            by_item[entry.item].append(entry)
        for key, wanted in by_item.items():
            fields = [p.model_dump(exclude_none=True, exclude={"item", "identity"}) for p in wanted]
            label, expected = f"participants of {key}", "; ".join(_participant(f) for f in fields)
            if "participants" in self.seen.unavailable:
                self.skip(label, expected, self.seen.unavailable["participants"])
                continue
            found = self.item(label, expected, key)
            if found is None:
                continue
            got = self.seen.participants.get(key)
            if got is None:
                self.add(label, expected, f"no transcript to read them from (the item is {found.status})", False)
                continue
            ok = len(got) == len(fields)
            for position, want in enumerate(fields):
                number = want.get("channel_participant")
                match = [p for p in got if p.get("channel_participant") == number] if number is not None else (
                    got[position : position + 1])  # fmt: skip
                ok = ok and bool(match) and all(match[0].get(k) == v for k, v in want.items())
            self.add(label, expected, "; ".join(_participant(p) for p in got) or "(none)", ok)

    # --- what only the mock can see ------------------------------------------------------------------------------

    def _mock_only(self) -> None:
        e, stats = self.e, self.seen.stats
        checks: list[tuple[str, str]] = []
        if e.exactly_once:
            checks.append(("exactly once (the mock's transcripts per CustomerKey)", "one transcript per item"))
        checks += [(_alert_label(a.code, a.item), "in the alert log") for a in e.alerts]
        if e.webhooks is not None:
            for name in ("sent", "failed", "dropped"):
                bound = getattr(e.webhooks, name)
                if bound is not None:
                    checks.append((f"webhooks {name}", bound.describe()))
        if e.share_429 is not None:
            checks.append(("share of 429 answers", e.share_429.describe()))
        checks += [(f"stats {name}", bound.describe()) for name, bound in e.stats.items()]
        if stats is None:
            for label, expected in checks:
                self.skip(label, expected, f"{MOCK_ONLY} (target {self.seen.target})")
            return
        if e.exactly_once:
            self._exactly_once(stats)
        for alert in e.alerts:
            self._alert(_alert_label(alert.code, alert.item), alert.code, alert.item, alert.message)
        if e.webhooks is not None:
            for name in ("sent", "failed", "dropped"):
                bound = getattr(e.webhooks, name)
                if bound is not None:
                    self._bound(f"webhooks {name}", bound, float(stats.get(f"webhooks_{name}", 0)))
        if e.share_429 is not None:
            requests, rejected = int(stats.get("requests", 0)), int(stats.get("rejected_429", 0))
            share = rejected / requests if requests else 0.0
            self.add("share of 429 answers", e.share_429.describe(), f"{_fmt(share)} ({rejected} of {requests})",
                     e.share_429.holds(share))  # fmt: skip
        for name, bound in e.stats.items():
            self._bound(f"stats {name}", bound, float(stats.get(name, 0)))

    def _bound(self, label: str, bound: Bound, value: float) -> None:
        self.add(label, bound.describe(), _fmt(value), bound.holds(value))

    def _exactly_once(self, stats: Mapping[str, Any]) -> None:
        per_key: Mapping[str, int] = stats.get("transcripts_by_customer_key", {})
        twice = {k: n for k, n in per_key.items() if n > 1}
        missing = [k for k, i in self.seen.items.items() if i.status == "completed" and per_key.get(k) != 1]
        unknown = [k for k in per_key if k not in self.seen.items]
        problems = [f"{k}: {n} transcripts" for k, n in list(twice.items())[:10]]
        problems += [f"{k}: completed without exactly one" for k in missing[:10]]
        problems += [f"{k}: not an item of the scenario" for k in unknown[:10]]
        made = sum(per_key.values())
        actual = "; ".join(problems) or f"{made} transcripts for {len(per_key)} keys, none twice"
        self.add("exactly once (the mock's transcripts per CustomerKey)", "one transcript per item", actual,
                 not problems)  # fmt: skip

    def _alert(self, label: str, code: int, key: str | None, message: str | None) -> None:
        alerts = self.seen.alerts or []
        expected = f"code {code}" + (f" for {key}" if key else "") + (f" saying {message!r}" if message else "")
        if key is not None and key in self.seen.skipped_items:
            self.skip(label, expected, self.seen.skipped_items[key])
            return
        match = [a for a in alerts if a.get("code") == code and (key is None or a.get("customer_key") == key)
                 and (message is None or message.lower() in str(a.get("message", "")).lower())]  # fmt: skip
        mine = [a for a in alerts if key is None or a.get("customer_key") == key]
        seen = ", ".join(f"{a.get('code')} {str(a.get('message', ''))[:80]!r}" for a in mine[:3]) or "no alert"
        self.add(label, expected, seen, bool(match))


def _alert_label(code: int, key: str | None) -> str:
    return f"alert {code}" + (f" for {key}" if key else "")


def _participant(fields: Mapping[str, Any]) -> str:
    number = fields.get("channel_participant", "?")
    rest = ", ".join(f"{k}={v}" for k, v in fields.items() if k != "channel_participant")
    return f"{number}: {rest}" if rest else str(number)
