"""`cintel submit --report DIR` writes the batch's traffic as the load report (`cintel load`'s files): every request
counted with its outcome — the 429s a small concurrency limit causes included — and no secret in any file."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from tests.integration.cli_support import cintel


async def test_a_batch_writes_the_load_report_with_its_429s_and_no_secret(tmp_path: Path) -> None:
    manifest = tmp_path / "calls.jsonl"
    rows = [{"media_url": f"https://media.example/{i}.wav", "customer_key": f"k{i}"} for i in range(20)]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "mock.toml"
    config.write_text('media = { fetch = false }\nlifecycle = { mode = "immediate" }\nconcurrency_limit = 2\n'
                      "latency_ms = 30\n")  # fmt: skip
    out = tmp_path / "report"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    done = await cintel("submit", str(manifest), "--mock", "--mock-config", str(config), "--report", str(out),
                        "--log-format", "json", env=env)  # fmt: skip
    assert done.code == 0, done
    report = json.loads((out / "report.json").read_text())
    summary = report["summary"]
    assert summary["rate_limited"] > 0  # the limit of 2 was crossed by the limiter's probing, and counted
    assert summary["ok"] >= 20  # at least each create (and the polls) answered
    assert summary["sent"] == summary["ok"] + summary["rate_limited"] + summary["server_errors"] + summary[
        "other_errors"]  # fmt: skip
    with (out / "timeseries.csv").open() as f:
        seconds = list(csv.DictReader(f))
    assert sum(int(s["sent"]) for s in seconds) == summary["sent"]
    html = (out / "report.html").read_text()
    assert "<script" in html
    assert "http://" not in html.split("</head>")[0]  # self-contained: nothing fetched
    for path in out.iterdir():
        text = path.read_text()
        assert "Authorization" not in text
        assert "Basic " not in text
