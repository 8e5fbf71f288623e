"""Emulators: programs that speak a device's bytes on a loopback socket, so that the real
drivers run end to end without hardware (`stax emulate DEVICE --listen 127.0.0.1:PORT`).

Each device module gives a `Device` (framing, answers, how to corrupt an answer); the
`EmulatorServer` here serves it over TCP or UDP and can be told to misbehave with one of
`FAULTS`, for tests and demos.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from typing import Protocol

__all__ = ["DEVICES", "FAULTS", "Device", "EmulatorServer", "make_device"]

log = logging.getLogger(__name__)

# garbage: bytes that are no reply; bad_checksum: the right reply with a wrong checksum;
# silence: no reply at all; error: the device's own error code; disconnect: the
# connection is closed (a TCP device unplugged; over UDP the same as silence)
FAULTS = ("garbage", "bad_checksum", "silence", "error", "disconnect")
GARBAGE = b"\x8f\xff\x00?#\x13garbage\r\n"

# DEVICE name of `stax emulate` -> module under emulators/
DEVICES = {
    "ortec-mcb": "ortec",
    "amptek-dp5": "amptek",
    "alicat": "alicat",
    "cryotel": "cryotel",
    "modbus": "modbus",
}


class Device(Protocol):
    name: str
    transport: str  # "tcp" or "udp"
    faults: tuple[str, ...]  # the faults this device can show

    def split(self, buffer: bytes) -> tuple[bytes | None, bytes]:
        """One whole request from the front of `buffer` (None: wait for more) and the rest."""

    def answer(self, request: bytes) -> bytes: ...

    def corrupt(self, reply: bytes) -> bytes:
        """The reply with its checksum wrong."""

    def error_reply(self, request: bytes) -> bytes:
        """The device's answer when it reports an error for `request`."""


def make_device(name: str, **options) -> Device:
    """The emulated device `stax emulate` names, e.g. make_device("ortec-mcb", seed=2)."""
    import importlib

    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r}; use one of {', '.join(DEVICES)}")
    module = importlib.import_module(f"{__name__}.{DEVICES[name]}")
    return module.emulated(**options)


class EmulatorServer:
    """Serves one device on 127.0.0.1 (port 0: a free one), in a background thread.

    `fault` (one of the device's `faults`, or None) changes its behaviour from the next
    request on; `requests` keeps every request received, for tests. Use as a context
    manager, or start()/stop().
    """

    def __init__(self, device: Device, host: str = "127.0.0.1", port: int = 0):
        self.device = device
        self._fault: str | None = None
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        handler = _tcp_handler(self) if device.transport == "tcp" else _udp_handler(self)
        base = _TcpServer if device.transport == "tcp" else _UdpServer
        self._server = base((host, port), handler)
        self.host, self.port = self._server.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """What a driver opens: `socket://` (pyserial) for TCP devices, `udp://` for UDP,
        `tcp://` for Modbus (pymodbus)."""
        default = "socket" if self.device.transport == "tcp" else "udp"
        scheme = getattr(self.device, "scheme", default)
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def fault(self) -> str | None:
        return self._fault

    @fault.setter
    def fault(self, fault: str | None) -> None:
        if fault is not None and fault not in self.device.faults:
            raise ValueError(
                f"{self.device.name} cannot show fault {fault!r}; it can show "
                f"{', '.join(self.device.faults)}"
            )
        self._fault = fault

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        log.info("%s emulator listening on %s", self.device.name, self.url)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reply_to(self, request: bytes) -> bytes | None:
        """What the device sends back now (None: nothing; b"" never happens)."""
        with self._lock:
            self.requests.append(request)
            fault = self._fault
            if fault in ("silence", "disconnect"):
                return None
            if fault == "garbage":
                return GARBAGE
            if fault == "error":
                return self.device.error_reply(request)
            reply = self.device.answer(request)
            return self.device.corrupt(reply) if fault == "bad_checksum" else reply


class _TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class _UdpServer(socketserver.ThreadingUDPServer):
    allow_reuse_address = True
    daemon_threads = True


def _tcp_handler(server: EmulatorServer):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(0.2)
            buffer = b""
            while True:
                if server.fault == "disconnect":
                    return  # closes the connection, as an unplugged device server does
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while True:
                    request, buffer = server.device.split(buffer)
                    if request is None:
                        break
                    if server.fault == "disconnect":
                        return
                    reply = server.reply_to(request)
                    if reply:
                        try:
                            sock.sendall(reply)
                        except OSError:
                            return

    return Handler


def _udp_handler(server: EmulatorServer):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            request, _ = server.device.split(data)
            if request is None:
                request = data  # a broken datagram still gets the device's answer
            reply = server.reply_to(request)
            if reply:
                sock.sendto(reply, self.client_address)

    return Handler
