"""`credstream webhooks dead|replay`: see a subscription's dead-lettered deliveries and send them again, through the
webhooks service's admin API (the same endpoints an operator would curl), with the admin token from the environment
(CREDSTREAM_ADMIN_TOKEN). One JSON line per delivery, as `credstream dlq` prints dead-lettered records."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8005"
URL_VARIABLE = "CREDSTREAM_WEBHOOKS_URL"
ClientFactory = Callable[[str, dict[str, str]], httpx.Client]


def add_webhook_commands(commands: Any) -> None:
    """Register `webhooks` and its actions on the top-level subparsers."""
    webhooks = commands.add_parser(
        "webhooks",
        help=f"list and replay a subscription's dead-lettered webhook deliveries (admin API at ${URL_VARIABLE}, "
        "token CREDSTREAM_ADMIN_TOKEN); one JSON line each",
    )
    actions = webhooks.add_subparsers(dest="webhooks_action", required=True)
    dead = actions.add_parser("dead", help="the subscription's dead letters, newest first (never the body)")
    replay = actions.add_parser(
        "replay", help="make dead letters due now with a fresh set of attempts (all of them, or --delivery ID)"
    )
    for parser in (dead, replay):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--subscription", required=True, help="the subscription id")
        parser.add_argument(
            "--url", default=os.environ.get(URL_VARIABLE, DEFAULT_URL), help=f"webhooks service (${URL_VARIABLE})"
        )
    dead.add_argument("--limit", type=int, default=50, help="at most this many (1-500, default 50)")
    replay.add_argument(
        "--delivery", action="append", default=[], metavar="ID", help="only this dead letter (repeatable)"
    )


def run_webhooks(args: argparse.Namespace, admin_token: str, client: ClientFactory | None = None) -> int:
    """0 when the service did what was asked; 1 (its problem details on stderr) when it refused."""
    headers = {"Authorization": f"Bearer {admin_token}", "Accept": "application/json"}
    base = f"/v1/tenants/{args.tenant}/webhooks/{args.subscription}/deliveries"
    with (client or _client)(args.url.rstrip("/"), headers) as http:
        try:
            if args.webhooks_action == "dead":
                answer = _json(http.get(base, params={"status": "dead", "limit": args.limit}))
                _print(answer["deliveries"])
                return 0
            if not args.delivery:
                _print([{"replayed": _json(http.post(f"{base}/replay"))["replayed"], "delivery": "all dead"}])
                return 0
            for delivery in args.delivery:
                _print([{"replayed": _json(http.post(f"{base}/{delivery}/replay"))["replayed"], "delivery": delivery}])
            return 0
        except Refused as refused:
            print(json.dumps(refused.problem, ensure_ascii=False), file=sys.stderr)
            return 1
        except httpx.HTTPError as error:
            print(json.dumps({"title": "Unreachable", "detail": f"{args.url}: {error}"}), file=sys.stderr)
            return 1


class Refused(Exception):
    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail"))
        self.problem = problem


def _client(base_url: str, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=headers, timeout=30.0)


def _json(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json()
    try:
        problem = response.json()
    except ValueError:
        problem = {"detail": response.text[:500]}
    problem = problem if isinstance(problem, dict) else {"detail": problem}
    raise Refused({"status": response.status_code, **problem})


def _print(lines: Any) -> None:
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
