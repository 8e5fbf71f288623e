"""The vendor's acquisition software, emulated: counts with a simulated MCA and writes
one CHN file per 15-minute interval into a folder, as Maestro or Genie would for the
`vendor-files` driver. Each file is written beside its final name and renamed, so it
appears whole."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from ...clock import Clock, next_boundary
from ..base import Presets
from ..simulated import SimulatedMca

__all__ = ["VendorSoftwareEmulator"]

log = logging.getLogger(__name__)


class VendorSoftwareEmulator:
    def __init__(self, folder: str | Path, mca: SimulatedMca, clock: Clock):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.mca = mca
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = None

    def write(self, started, counts, live: float, real: float) -> Path:
        import SpecUtils

        spec = SpecUtils.SpecFile()
        m = SpecUtils.Measurement.new()
        m.setGammaCounts([float(c) for c in counts], live, real)
        m.setStartTime(started.replace(tzinfo=None))  # local time of a PC set to UTC
        spec.addMeasurement(m, True)
        path = self.folder / f"{started:%Y%m%d_%H%M%S}.Chn"
        tmp = self.folder / f".{path.name}.part"
        spec.writeToFile(
            str(tmp),
            list(spec.sampleNumbers()),
            list(spec.detectorNumbers()),
            SpecUtils.SaveSpectrumAsType.Chn,
        )
        os.replace(tmp, path)
        return path

    def _run(self) -> None:
        mca = self.mca
        while not self._stop.is_set():
            boundary = next_boundary(self.clock.now())
            if not self.clock.wait_until(boundary, self._stop):
                return
            if self._started is not None:
                mca.stop()
                counts, e = mca.read_spectrum(), mca.elapsed()
                try:
                    self.write(self._started, counts, e.live_time, e.real_time)
                except Exception:  # the emulator goes on counting, as the vendor's would
                    log.exception("vendor software emulator: could not write the file")
            mca.set_presets(Presets())
            mca.clear()
            self._started = self.clock.now()
            mca.start()

    def start(self) -> VendorSoftwareEmulator:
        self._thread = threading.Thread(target=self._run, daemon=True, name="vendor-software")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
