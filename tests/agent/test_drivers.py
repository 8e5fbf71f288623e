"""The driver layer: the serial transport (on pyserial's loopback) and the simulated MCA
behaving as the vendor-neutral interface says."""

from datetime import timedelta

import pytest

from edge_agent.clock import SteppingClock
from edge_agent.drivers.base import DeviceError, DeviceTimeout, Presets, SerialTransport
from edge_agent.drivers.simulated import SimulatedMca

from .conftest import T0


def test_serial_transport_moves_bytes_and_times_out_clearly():
    port = SerialTransport("loop://", timeout=0.05)
    try:
        assert port.query(b"SHOW_LIVE\r", b"\r") == b"SHOW_LIVE\r"  # the loop echoes
        port.write(b"$G0007892556117")
        assert port.read(2) == b"$G"
        with pytest.raises(DeviceTimeout, match=r"loop://: no reply ending in b'\\r'"):
            port.read_until(b"\r")
        with pytest.raises(DeviceTimeout, match="expected 4 bytes, got 0"):
            port.read(4)
    finally:
        port.close()


def test_a_port_that_cannot_be_opened_says_what_to_check():
    with pytest.raises(DeviceError, match=r"cannot open /dev/nonexistent-mca: .*check the port"):
        SerialTransport("/dev/nonexistent-mca")


def test_simulated_mca_counts_time_only_while_started(source):
    clock = SteppingClock(T0)
    mca = SimulatedMca(source, clock)
    mca.start()
    clock.advance(timedelta(seconds=100))
    mca.stop()
    clock.advance(timedelta(seconds=50))
    assert mca.elapsed().real_time == 100.0
    assert mca.elapsed().live_time == pytest.approx(99.0, abs=0.02)
    assert not mca.status().acquiring
    mca.start()
    clock.advance(timedelta(seconds=20))
    assert mca.elapsed().real_time == 120.0
    counts = mca.read_spectrum()
    assert counts.shape == (1024,) and counts.sum() > 0
    mca.clear()
    assert mca.elapsed().real_time == 0.0
    assert mca.status().acquiring  # clearing a running MCA does not stop it


def test_a_reached_preset_stops_the_acquisition(source):
    clock = SteppingClock(T0)
    mca = SimulatedMca(source, clock)
    mca.set_presets(Presets(real_time=60.0))
    assert mca.presets() == Presets(real_time=60.0)
    mca.start()
    clock.advance(timedelta(seconds=90))
    status = mca.status()
    assert status.preset_reached and not status.acquiring
    assert mca.elapsed().real_time == 60.0


def _echo_server(kind: str):
    """A loopback echo server (TCP or UDP) that stops with the test."""
    import socketserver
    import threading

    class Tcp(socketserver.BaseRequestHandler):
        def handle(self):
            while data := self.request.recv(1024):
                self.request.sendall(data)

    class Udp(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            sock.sendto(data, self.client_address)

    base = socketserver.ThreadingTCPServer if kind == "tcp" else socketserver.ThreadingUDPServer
    server = base(("127.0.0.1", 0), Tcp if kind == "tcp" else Udp)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server


@pytest.mark.parametrize("kind", ["tcp", "udp"])
def test_tcp_and_udp_transports_move_bytes_and_time_out_clearly(kind):
    from edge_agent.drivers.base import TcpTransport, UdpTransport, open_transport

    server = _echo_server(kind)
    url = f"{kind}://127.0.0.1:{server.server_address[1]}"
    port = open_transport(url, timeout=0.2)
    try:
        assert isinstance(port, TcpTransport if kind == "tcp" else UdpTransport)
        assert port.query(b"SHOW_LIVE\r", b"\r") == b"SHOW_LIVE\r"
        port.write(b"$G0007892556117")
        assert port.read(2) == b"$G" and port.read(13) == b"0007892556117"
        with pytest.raises(DeviceTimeout, match=rf"{url}: no reply within 0.2 s"):
            port.read(1)
    finally:
        port.close()
        server.shutdown()
        server.server_close()


def test_a_tcp_url_without_a_port_says_how_to_write_it():
    from edge_agent.drivers.base import open_transport

    with pytest.raises(DeviceError, match=r"expected tcp://HOST:PORT, e.g. tcp://10.0.0.5:4001"):
        open_transport("tcp://10.0.0.5")


def test_visa_transport_through_pyvisa_py_on_a_loopback_socket():
    from edge_agent.drivers.base import VisaTransport, open_transport

    server = _echo_server("tcp")
    url = f"visa://TCPIP0::127.0.0.1::{server.server_address[1]}::SOCKET"
    port = open_transport(url, timeout=0.5)
    try:
        assert isinstance(port, VisaTransport)
        assert port.query(b"SHOW_TRUE\r", b"\r") == b"SHOW_TRUE\r"
        port.write(b"F5FA")
        assert port.read(4) == b"F5FA"
        with pytest.raises(DeviceTimeout, match="expected 1 bytes"):
            port.read(1)
    finally:
        port.close()
        server.shutdown()
        server.server_close()
