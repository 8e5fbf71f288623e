"""`stax agent run --config FILE` and the operator's outbox commands:

stax agent outbox list [--state STATE] [--limit N] --config FILE
stax agent outbox release ID --config FILE     send a held (or refused) file
stax agent outbox withhold ID --config FILE    keep a file at the station
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from stax.cli import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", required=True, metavar="FILE", help="the agent's TOML file")
        return p

    with_config(
        sub.add_parser(
            "run",
            help="acquire, sign and send until stopped (SIGTERM or Ctrl-C)",
            description="Run the station's edge agent in the foreground, logging to stderr.",
        )
    )
    outbox = sub.add_parser("outbox", help="look at and act on the files waiting to be sent")
    what = outbox.add_subparsers(dest="outbox_action", metavar="ACTION", required=True)
    listing = with_config(what.add_parser("list", help="the files in the outbox, newest first"))
    listing.add_argument(
        "--state",
        action="append",
        choices=("held", "ready", "sent", "refused"),
        help="only files in this state (repeat for several)",
    )
    listing.add_argument("--limit", type=int, default=50, help="at most N files (default 50)")
    release = with_config(
        what.add_parser("release", help="send a held file now (or a refused one again)")
    )
    release.add_argument("id", type=int, metavar="ID")
    withhold = with_config(what.add_parser("withhold", help="keep a file until released"))
    withhold.add_argument("id", type=int, metavar="ID")


def _config(path: str):
    from edge_agent.config import ConfigError, load_agent_config

    try:
        return load_agent_config(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    config = _config(args.config)
    if args.action == "run":
        from edge_agent.service import AgentError, run_agent

        try:
            return run_agent(config)
        except AgentError as exc:
            raise UsageError(f"{args.config}: {exc}") from None
    return _outbox(args, config)


def _outbox(args: argparse.Namespace, config) -> int:
    from edge_agent.outbox import STATES, Outbox, OutboxError

    if not config.outbox.path.exists():
        raise UsageError(
            f"{args.config}: [outbox] path {config.outbox.path} does not exist "
            "(has the agent run with this configuration yet?)"
        )
    try:
        with Outbox(config.outbox.path) as box:
            if args.outbox_action == "list":
                states = tuple(args.state) if args.state else STATES
                _print_list(box.list(states, limit=args.limit), box.counts())
                return 0
            if args.outbox_action == "release":
                item = box.release(args.id)
                print(f"{item.id} {item.file_name}: released, it will be sent shortly")
            else:
                item = box.withhold(args.id)
                print(f"{item.id} {item.file_name}: withheld until `stax agent outbox release`")
            return 0
    except OutboxError as exc:
        raise UsageError(str(exc)) from None


def _when(t: datetime | None) -> str:
    return "-" if t is None else f"{t:%Y-%m-%d %H:%M}"


def _real(t: float | None) -> str:
    return "-" if t is None else f"{datetime.fromtimestamp(t, UTC):%Y-%m-%d %H:%M:%S}"


def _print_list(items, counts: dict[str, int]) -> None:
    print(", ".join(f"{n} {state}" for state, n in counts.items()))
    if not items:
        return
    print(f"{'ID':>6} {'STATE':<8} {'FILE':<46} {'RELEASE (UTC)':<16} {'TRIES':>5}  LAST ANSWER")
    for f in items:
        if f.state == "held" and f.release_at is None:
            release = "by hand"
        else:
            release = _when(f.release_at)
        last = "-"
        if f.last_status is not None or f.last_error:
            last = " ".join(str(x) for x in (f.last_status, f.last_error) if x)
            last += f" (at {_real(f.last_attempt_at)})"
        print(f"{f.id:>6} {f.state:<8} {f.file_name:<46} {release:<16} {f.attempts:>5}  {last}")
