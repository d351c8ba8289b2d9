"""`credstream` command line: serve a service, run the embedded demo, verify credentials, print AsyncAPI, see and
replay dead letters (Kafka records and webhook deliveries)."""

import gc
import sys
from pathlib import Path

# Run as the program (`credstream`, `python -m services.cli`), not imported: start-up imports and wires up ~1
# CPU-second of objects that all stay alive, and the cyclic collector only wastes time on them (~17 % of a start).
# `main` turns it back on (`serve`: once the service has started).
if __name__ == "__main__" or Path(sys.argv[0]).name == "credstream":
    gc.disable()

import argparse
import asyncio

from services.load_cli import add_parser as add_load_parser
from services.runtime import SERVICES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="credstream", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run one service as its own process (Kafka + PostgreSQL)")
    serve.add_argument("service", choices=SERVICES)

    demo = commands.add_parser("demo", help="run all services in one process through a scripted scenario")
    demo.add_argument("--out", type=Path, help="write each issued credential to OUT/<learner>-<achievement>.json")
    demo.add_argument("--data-dir", type=Path, help="keep the SQLite databases here (default: a temp dir)")

    verify = commands.add_parser(
        "verify",
        help="verify credential files (JSON, baked PNG/SVG); one JSON line each; exit 0 only if all verify",
    )
    verify.add_argument("files", nargs="+", type=Path)
    verify.add_argument(
        "--doc",
        action="append",
        default=[],
        metavar="URL=FILE",
        help="supply a document (issuer key document, DID document by URL or DID, status list credential); "
        "supplied documents are never fetched; repeatable",
    )
    verify.add_argument(
        "--offline", action="store_true", help="fetch nothing: what --doc does not supply is undetermined"
    )
    verify.add_argument("--now", help="verify as of this XSD dateTime instead of the current time")
    verify.add_argument(
        "--trust-named-keys",
        action="store_true",
        help="accept a key named in the verificationMethod (<issuer>#z6Mk...) without an issuer document, as the "
        "1EdTech validator does (for comparing verdicts; anyone can name their key after any issuer)",
    )

    commands.add_parser("asyncapi", help="print the AsyncAPI document of every topic")

    from services.dead_letter_commands import add_dlq_commands

    add_dlq_commands(commands)
    from services.webhook_commands import add_webhook_commands

    add_webhook_commands(commands)
    add_load_parser(commands)

    topics = commands.add_parser("create-topics", help="create credstream's Kafka topics (KAFKA_BOOTSTRAP_SERVERS)")
    topics.add_argument("--partitions", type=int, default=6, help="per topic (default 6)")
    topics.add_argument("--replication-factor", type=int, default=1)

    migrate = commands.add_parser("migrate", help="apply a service's database migrations (DATABASE_URL)")
    migrate.add_argument("service", choices=(*SERVICES, "all"))

    revision = commands.add_parser("make-migration", help="autogenerate a migration from a service's tables")
    revision.add_argument("service", choices=SERVICES)
    revision.add_argument("-m", "--message", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from shared.logs import configure_logging
    from shared.settings import Settings

    settings = Settings()
    if args.command == "serve":
        configure_logging(settings.log_level, settings.log_format)
        from shared.tracing import configure as configure_tracing

        configure_tracing(args.service)
        from services.runtime import serve

        asyncio.run(serve(args.service, settings))
        return 0
    gc.enable()
    if args.command == "demo":
        configure_logging("WARNING", "console")
        from services.demo import run_demo

        return asyncio.run(run_demo(settings, out=args.out, data_dir=args.data_dir))
    if args.command == "verify":
        from services.verifier.files import verify_files

        return verify_files(
            args.files,
            args.doc,
            offline=args.offline,
            now=args.now,
            settings=settings,
            trust_named_keys=args.trust_named_keys,
        )
    if args.command == "load":
        from services.load_cli import run_from_args

        return run_from_args(args, settings)
    if args.command == "asyncapi":
        from services.asyncapi import asyncapi_json

        print(asyncapi_json())
        return 0
    if args.command == "create-topics":
        from shared.messaging.topics import ensure_topics

        created = asyncio.run(
            ensure_topics(
                settings.kafka_bootstrap_servers,
                partitions=args.partitions,
                replication_factor=args.replication_factor,
            )
        )
        print("created: " + (", ".join(created) or "nothing (all exist)"))
        return 0
    if args.command == "dlq":
        from services.dead_letter_commands import run_dlq

        return run_dlq(args, settings.kafka_bootstrap_servers)
    if args.command == "webhooks":
        from services.webhook_commands import run_webhooks

        return run_webhooks(args, settings.admin_token.get_secret_value())
    if args.command in ("migrate", "make-migration"):
        configure_logging(settings.log_level, "console")
        return asyncio.run(_migrate(args, settings.database_url))
    return 2


async def _migrate(args: argparse.Namespace, database_url: str) -> int:
    from shared.db.engine import create_engine
    from shared.db.migrations import make_revision, upgrade

    engine = create_engine(database_url)
    try:
        if args.command == "make-migration":
            await make_revision(engine, args.service, args.message)
        else:
            for service in SERVICES if args.service == "all" else (args.service,):
                await upgrade(engine, service)
    finally:
        await engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
