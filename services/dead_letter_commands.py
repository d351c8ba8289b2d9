"""`credstream dlq list|show|replay`: see dead letters and, once their cause is fixed, redrive them."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from shared.messaging.dead_letters import Selection, read_dead_letters, replays, republish, unreplayable


def add_dlq_commands(commands: Any) -> None:
    """Register `dlq` and its three actions on the top-level subparsers."""
    dlq = commands.add_parser(
        "dlq", help="list, show and replay dead-lettered records (KAFKA_BOOTSTRAP_SERVERS); one JSON line each"
    )
    actions = dlq.add_subparsers(dest="dlq_action", required=True)
    for action, summary in (
        ("list", "where and why each record was dead-lettered (never its value)"),
        ("show", "the records in full: every header and the value"),
        ("replay", "republish the original records to their topics (value, key, headers without dlq_*)"),
    ):
        parser = actions.add_parser(action, help=summary)
        parser.add_argument(
            "--topic",
            action="append",
            default=[],
            required=action == "replay",
            help="original or .dlq topic name (repeatable; default: every credstream dead-letter topic)",
        )
        parser.add_argument("--reason", help="only records whose dlq_reason contains this text (case-insensitive)")
        parser.add_argument("--partition", type=int, help="only this partition of the dead-letter topic")
        parser.add_argument("--from-offset", type=int, help="first dead-letter offset (inclusive)")
        parser.add_argument("--to-offset", type=int, help="last dead-letter offset (inclusive)")
        parser.add_argument("--offset", type=int, help="exactly this dead-letter offset (with --partition)")
        if action == "replay":
            parser.add_argument("--dry-run", action="store_true", help="print what would be replayed, send nothing")


def selection(args: argparse.Namespace) -> Selection:
    exact = args.offset
    return Selection(
        topics=tuple(args.topic),
        reason=args.reason,
        partition=args.partition,
        from_offset=exact if exact is not None else args.from_offset,
        to_offset=exact if exact is not None else args.to_offset,
    )


def run_dlq(args: argparse.Namespace, bootstrap_servers: str) -> int:
    return asyncio.run(_run(args, bootstrap_servers))


async def _run(args: argparse.Namespace, bootstrap_servers: str) -> int:
    letters = await read_dead_letters(bootstrap_servers, selection(args))
    if args.dlq_action == "list":
        _print(letter.summary() for letter in letters)
    elif args.dlq_action == "show":
        _print(letter.detail() for letter in letters)
    else:
        records = replays(letters)
        if not args.dry_run:
            await republish(bootstrap_servers, records)
        _print({**record.describe(), "dry_run": args.dry_run} for record in records)
        _print(
            {**letter.summary(), "skipped": "value truncated when dead-lettered; the original must be sent again"}
            for letter in unreplayable(letters)
        )
    return 0


def _print(lines: Any) -> None:
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
