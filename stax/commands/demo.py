"""`stax demo`: simulated stations and a central server with its web UI on this machine.

stax demo [--data-dir DIR] [--duration SECONDS] [--speed S] [--stations N]
          [--web-port PORT] [--intake-port PORT] [--hardware simulated|emulated]
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from stax.cli import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("demo-data"),
        metavar="DIR",
        help="where the CA, databases, outboxes, logs and passwords live; a second run "
        "goes on with what is there (default: ./demo-data)",
    )
    parser.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop by itself after this long"
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="station clock speed: 60 makes a 15-minute spectrum every 15 s (default 60)",
    )
    parser.add_argument(
        "--stations", type=int, default=3, help="simulated stations, 1-3 (default 3)"
    )
    parser.add_argument("--web-port", type=int, help="the web UI's port (default: a free one)")
    parser.add_argument(
        "--intake-port", type=int, help="the central intake's port (default: a free one)"
    )
    parser.add_argument(
        "--hardware",
        choices=("simulated", "emulated"),
        default="simulated",
        help="simulated: the simulated MCA driver; emulated: real drivers (ortec-mcb, "
        "amptek-dp5, vendor-files; alicat, cryotel, modbus) against emulators the demo "
        "starts (default: simulated)",
    )


def run(args: argparse.Namespace) -> int:
    from central.demo import DemoError, prepare_demo, run_demo

    if args.duration is not None and args.duration <= 0:
        raise UsageError("--duration must be positive")
    for name in ("web_port", "intake_port"):
        port = getattr(args, name)
        if port is not None and not 0 < port < 65536:
            raise UsageError(f"--{name.replace('_', '-')} must be 1-65535, got {port}")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        print(f"preparing the demo in {args.data_dir} ...", flush=True)
        demo = prepare_demo(
            args.data_dir,
            stations=args.stations,
            speed=args.speed,
            web_port=args.web_port,
            intake_port=args.intake_port,
            hardware=args.hardware,
        )
        return run_demo(
            demo,
            speed=args.speed,
            duration=args.duration,
            stop=stop,
            say=lambda text: print(text, flush=True),
        )
    except DemoError as exc:
        raise UsageError(str(exc)) from None
