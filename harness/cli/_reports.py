"""`cintel status` and `cintel results`: read a batch's journal — read-only, so they work while a run holds it."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from harness._journal import Journal
from harness._redact import scrub_text
from harness._service_hook import pending_restore
from harness.cli._exit import EXIT_OK

STATE_MEANING = {
    "completed": "transcribed; results in the output directory",
    "failed": "failed for its own reason (`cintel results`); --retry-failed sends it again",
    "submitted": "sent; Twilio is transcribing it",
    "pending": "not sent yet",
    "submitting": "being sent (or a run stopped while sending): reconciled before any resend",
    "unknown": "sent, answer lost: reconciled by CustomerKey before any resend",
}


def status_command(args: argparse.Namespace) -> int:
    with Journal.open_readonly(args.journal) as journal:
        info = {k: scrub_text(v) for k, v in journal.batch_info().items()}
        counts = journal.counts()
        restore = pending_restore(journal)
    if args.json:
        print(json.dumps({"journal": str(args.journal), "batch": info, "counts": counts, "total": sum(counts.values()),
                          "webhook_to_restore": restore}, indent=1))  # fmt: skip
        return EXIT_OK
    console = Console()
    if not console.is_terminal:  # a log or a pipe: no wrapping at 80 columns
        console = Console(width=200)
    console.print(f"batch {info.get('batch_id', '?')} — journal {args.journal}", markup=False, highlight=False)
    for key in ("service_sid", "base_url", "manifest"):
        if key in info:
            console.print(f"  {key}: {info[key]}", markup=False, highlight=False)
    table = Table()
    table.add_column("state")
    table.add_column("items", justify="right")
    table.add_column("meaning")
    for state, n in counts.items():
        table.add_row(state, str(n), STATE_MEANING.get(state, ""))
    table.add_row("total", str(sum(counts.values())), "")
    console.print(table)
    if restore is not None:
        console.print(f"  the WebhookUrl of service {restore.get('service_sid')} is still to be restored to "
                      f"{restore.get('webhook_url') or '(none)'} (the next run does it)", markup=False)  # fmt: skip
    return EXIT_OK


def results_command(args: argparse.Namespace) -> int:
    with Journal.open_readonly(args.journal) as journal:
        for item in journal.items():
            line = {
                "row": item.row, "customer_key": item.customer_key, "state": item.state,
                "transcript_sid": item.transcript_sid, "status": item.status,
                "error": scrub_text(item.last_error) if item.last_error else None,
            }  # fmt: skip
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return EXIT_OK
