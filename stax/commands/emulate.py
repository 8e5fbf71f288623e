"""`stax emulate DEVICE --listen 127.0.0.1:PORT`: run one device emulator until stopped,
so a driver can be tried without hardware (e.g. `[mca] port = "socket://127.0.0.1:4001"`).

DEVICE: ortec-mcb, amptek-dp5 (UDP), alicat, cryotel, modbus. `--fault` makes it misbehave
from the start: garbage, bad_checksum, silence, error, disconnect.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading

from edge_agent.drivers.emulators import DEVICES, FAULTS, EmulatorServer, make_device


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("device", metavar="DEVICE", choices=list(DEVICES), help=", ".join(DEVICES))
    parser.add_argument(
        "--listen", required=True, metavar="HOST:PORT", help="where to listen, e.g. 127.0.0.1:4001"
    )
    parser.add_argument("--fault", choices=FAULTS, help="misbehave this way from the start")
    parser.add_argument("--seed", type=int, default=1, help="MCAs: the simulator's seed")
    parser.add_argument("--station", default="EMU01", help="MCAs: the simulated station")
    parser.add_argument("--speed", type=float, default=1.0, help="MCAs: clock speed (60: 1 min/s)")
    parser.add_argument(
        "--framing", choices=("tcp", "rtu"), default="tcp", help="modbus: Modbus TCP or RTU frames"
    )


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from edge_agent.clock import AcceleratedClock, SystemClock

    from ..cli import UsageError

    host, sep, port = args.listen.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UsageError(f"--listen: expected HOST:PORT, e.g. 127.0.0.1:4001, got {args.listen!r}")
    clock = SystemClock() if args.speed == 1 else AcceleratedClock(datetime.now(UTC), args.speed)
    device = make_device(
        args.device, seed=args.seed, station=args.station, clock=clock, framing=args.framing
    )
    if args.fault is not None and args.fault not in device.faults:
        raise UsageError(
            f"{device.name} cannot show fault {args.fault!r}; it can show {', '.join(device.faults)}"
        )
    try:
        server = EmulatorServer(device, host, int(port))
        server.fault = args.fault
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        print(
            f"{device.name} on {server.url}" + (f" (fault: {args.fault})" if args.fault else ""),
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0
