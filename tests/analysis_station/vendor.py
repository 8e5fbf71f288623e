"""Real HPGe spectra of tests/data/vendor (read by shared/formats/vendor.py) and the natural
background lines their SOURCES.txt lists, for the peak-search tests of both methods."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.formats.vendor import VendorSpectrum, read_vendor_file

VENDOR = Path(__file__).resolve().parents[1] / "data" / "vendor"
FILES = (
    "01122014152731-GT01122014182338-GA37.4963000N-GO122.4633000W.cnf",
    "1110C NAA cave background May 2017.spe",
    "Alcatraz14.Spc",
)
# SOURCES.txt: Pb-214, Bi-214, K-40, Tl-208, Ac-228 (energies from physics.md section 2);
# annihilation is left out: Doppler-broadened, its width says nothing of the detector's
NATURAL_LINES_KEV = (
    295.224,
    351.932,
    583.187,
    609.312,
    911.196,
    1120.287,
    1460.822,
    1764.494,
    2614.511,
)


def nominal_fwhm_kev(energy):
    """A starting guess of an HPGe's FWHM (keV); the tests measure the real one."""
    return np.sqrt(0.6 + 0.002 * np.asarray(energy, dtype=float))


class FileEnergy:
    """The file's own polynomial E(ch) on array indices (ch the channel's lower edge, as
    SpecUtils defines it: the centre of index i is ch = i + 0.5)."""

    def __init__(self, spectrum: VendorSpectrum):
        assert spectrum.calibration_model == "polynomial"
        self.c = np.asarray(spectrum.calibration_coefficients, dtype=float)
        self._grid = np.arange(spectrum.counts.size + 1, dtype=float)
        self._e = self.energy(self._grid)

    def energy(self, index):
        return np.polynomial.polynomial.polyval(np.asarray(index, dtype=float) + 0.5, self.c)

    def slope(self, index):
        d = np.polynomial.polynomial.polyder(self.c)
        return np.polynomial.polynomial.polyval(np.asarray(index, dtype=float) + 0.5, d)

    def channel(self, energy):
        out = np.interp(np.atleast_1d(np.asarray(energy, dtype=float)), self._e, self._grid)
        return out if np.ndim(energy) else float(out[0])


def spectra():
    for name in FILES:
        v = read_vendor_file(VENDOR / name)
        yield name, v.counts.astype(float), FileEnergy(v)


def linear_residuals(lines, found, weights):
    """Found minus library energy after the best gain and offset (both methods correct
    the energy scale of a spectrum with lines; the files' calibrations predate them)."""
    e, f, w = (np.asarray(x, dtype=float) for x in (lines, found, weights))
    design = np.vstack([e, np.ones_like(e)]).T * w[:, None]
    coef = np.linalg.lstsq(design, (f - e) * w, rcond=None)[0]
    return (f - e) - (coef[0] * e + coef[1]), coef


def position_tolerance_kev(cal: FileEnergy, energy: float) -> float:
    """0.3 keV, or half a channel where channels are wider than 0.6 keV (the CNF file's
    0.72 keV channels and two-term calibration)."""
    return max(0.3, 0.5 * float(cal.slope(cal.channel(energy))))


MIN_SNR = 10.0  # lines weaker than this (area / its uncertainty) are not judged
