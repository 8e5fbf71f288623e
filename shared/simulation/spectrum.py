"""Expected HPGe spectra from chamber activities, and Poisson samples of them.

`expected_spectrum` builds the mean counts per channel from the physics (docs/simulator.md):
full-energy peaks (bin-integrated Gaussian plus a low-energy exponential tail; the
full-energy area N = A eps I t_live includes the tail), a small step under each peak,
a Klein-Nishina Compton continuum per line with its edge smeared by the resolution, a
multiple-scatter shelf between edge and peak, a backscatter bump, Pb K x-ray fluorescence
of the shield, the ambient background, the lower-level discriminator, non-paralysable
dead time and a true gain drift. `sample` draws the counts an MCA would record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erfc, erfcx, ndtr

from shared.nuclear import Library, load_library

from .detector import FWHM_PER_SIGMA, DetectorModel

ELECTRON_MASS_KEV = 510.99895
PB_K_EDGE_KEV = 88.0045  # photons above it can ionise the K shell of the lead shield

# Windows (in sigma) where each shape is evaluated; beyond them it is below 1e-9 of its area.
PEAK_SIGMAS_HIGH = 8.0
PEAK_SIGMAS_LOW = 8.0  # plus TAIL_LENGTHS tail decay lengths
TAIL_LENGTHS = 15.0
EDGE_SIGMAS = 8.0
BACKSCATTER_SIGMAS = 5.0
KN_BLOCK = 8  # channels per block where the smooth Compton continuum is interpolated
# Continuum pieces with fewer expected counts per live second than this are skipped:
# they could not change a spectrum, and traces of many nuclides would cost time.
NEGLIGIBLE_RATE_CPS = 1.0e-7

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class ExpectedLine:
    """One emitted line and its expected full-energy counts in this spectrum."""

    nuclide: str
    energy_kev: float
    intensity: float  # photons per decay
    kind: str  # gamma, xray, annihilation
    origin: str  # chamber (a source), ambient (through the shield), fluorescence (Pb K x-rays)
    activity_bq: float  # chamber activity; for ambient and fluorescence an equivalent activity
    efficiency: float  # full-energy-peak efficiency at energy_kev
    area: float  # expected full-energy counts N = A eps I t_live = gaussian_area + tail_area
    gaussian_area: float
    tail_area: float
    channel: float  # centroid of the Gaussian part in the spectrum (gain drift included)
    fwhm_kev: float  # of the Gaussian part (detector and Doppler)


@dataclass(eq=False)
class ExpectedSpectrum:
    """Mean counts per channel and what they are made of."""

    counts: np.ndarray  # float, expected counts per channel
    lines: list[ExpectedLine]
    components: dict[str, np.ndarray]  # peaks, steps, compton, backscatter, ambient_continuum
    live_time: float  # s
    real_time: float  # s
    input_rate_cps: float  # counts per live second recorded in the spectrum
    gain_drift: float
    detector: DetectorModel

    @property
    def dead_time_fraction(self) -> float:
        return 1.0 - self.live_time / self.real_time if self.real_time > 0 else 0.0


def live_time_for(detector: DetectorModel, real_time: float, rate_cps: float) -> float:
    """Non-paralysable dead time: each recorded count blocks the MCA for tau, so
    live = real - N tau with N = rate live, i.e. live = real / (1 + rate tau), in MCA ticks."""
    live = real_time / (1.0 + rate_cps * detector.dead_time_s)
    if detector.clock_tick_s > 0:
        # whole ticks; the second round removes the binary residue of the product
        live = round(round(live / detector.clock_tick_s) * detector.clock_tick_s, 9)
    return float(min(live, real_time))


# ------------------------------------------------------------------ line table
@dataclass
class _LineTable:
    nuclide: list[str]
    kind: list[str]
    origin: list[str]
    energy: np.ndarray
    intensity: np.ndarray
    activity: np.ndarray
    extra_fwhm: np.ndarray

    @classmethod
    def empty(cls) -> _LineTable:
        z = np.zeros(0)
        return cls([], [], [], z, z, z, z)

    def add(self, library: Library, name: str, activity: float, origin: str) -> None:
        nuclide = library[name]
        n = len(nuclide.lines)
        self.nuclide += [nuclide.name] * n
        self.kind += [ln.kind for ln in nuclide.lines]
        self.origin += [origin] * n
        self.energy = np.append(self.energy, [ln.energy for ln in nuclide.lines])
        self.intensity = np.append(self.intensity, [ln.intensity for ln in nuclide.lines])
        self.activity = np.append(self.activity, np.full(n, float(activity)))
        self.extra_fwhm = np.append(self.extra_fwhm, [ln.extra_fwhm_kev for ln in nuclide.lines])


def _reference_line(library: Library, name: str):
    """The line an ambient rate refers to: the nuclide's most intense line."""
    return max(library[name].lines, key=lambda ln: ln.intensity)


def _line_table(detector: DetectorModel, sources: dict[str, float], library: Library) -> _LineTable:
    table = _LineTable.empty()
    for name, activity in sources.items():
        if not (math.isfinite(activity) and activity >= 0):
            raise ValueError(f"activity of {name} must be a finite number >= 0 Bq, got {activity}")
        if activity > 0:
            table.add(library, name, activity, "chamber")
    for name, rate in detector.ambient_peak_rates:
        if rate > 0:
            ref = _reference_line(library, name)
            equivalent = rate / (float(detector.efficiency(ref.energy)) * ref.intensity)
            table.add(library, name, equivalent, "ambient")
    # Pb K x-rays: proportional to the photons that can excite the K shell of the shield
    above = table.energy > PB_K_EDGE_KEV
    flux = float(np.sum(table.activity[above] * table.intensity[above]))
    if flux > 0 and detector.pb_xrf_yield > 0:
        table.add(library, "Pb-XRF", detector.pb_xrf_yield * flux, "fluorescence")
    return table


# ------------------------------------------------------------------ shapes
def _tail_cdf(a, b, phi):
    """CDF of a Gaussian (unit sigma) convolved with a low-side exponential of length 1/b,
    at a = (E - mu)/sigma, given phi = Phi(a): Phi(a) + exp(a b + b^2/2) Phi(-(a + b)).

    Written with one erfcx so that nothing overflows: with y = |a + b|/sqrt(2) and
    g = erfcx(y) exp(-a^2/2) / 2, the second term is g above a = -b and
    exp(a b + b^2/2) - g below it (where that exponent is negative).
    """
    s = a + b
    g = 0.5 * erfcx(np.abs(s) / _SQRT2) * np.exp(-0.5 * a * a)
    low = np.exp(np.where(s > 0, 0.0, a * b + 0.5 * b * b)) - g
    return phi + np.where(s > 0, g, low)


def _step_integral(z, phi):
    """Antiderivative of 1 - Phi(z), given phi = Phi(z): z (1 - Phi(z)) - phi(z)."""
    return z * (1.0 - phi) - np.exp(-0.5 * z * z) / _SQRT2PI


def _klein_nishina(t, e):
    """Energy-transfer shape dsigma/dT (arbitrary units) of Compton scattering of a photon
    of energy e to an electron of kinetic energy t (keV), 0 <= t <= the Compton edge."""
    eps = e / ELECTRON_MASS_KEV
    s = t / e
    return 2.0 + s * s / (eps * eps * (1.0 - s) ** 2) + s / (1.0 - s) * (s - 2.0 / eps)


def _ragged(starts, stops):
    """Flattened (line, channel) pairs for channel ranges [start, stop) of each line."""
    lengths = np.maximum(stops - starts, 0)
    line = np.repeat(np.arange(len(starts)), lengths)
    offsets = np.cumsum(lengths) - lengths
    channel = np.arange(int(lengths.sum())) - np.repeat(offsets - starts, lengths)
    return line, channel


def expected_spectrum(
    detector: DetectorModel,
    sources: dict[str, float],
    live_time: float | None = None,
    real_time: float = 900.0,
    gain_drift: float = 0.0,
    library: Library | None = None,
) -> ExpectedSpectrum:
    """The expected spectrum of `sources` (nuclide name -> mean activity in the chamber, Bq).

    With live_time None it follows from real_time and the dead time of the total count rate.
    gain_drift is a relative change of the true gain (channel = (1 + g) x nominal channel).
    """
    library = library or load_library()
    if real_time <= 0:
        raise ValueError(f"real time must be positive, got {real_time}")
    if live_time is not None and not 0 < live_time <= real_time:
        raise ValueError(f"live time must be in (0, real time], got {live_time}")
    n_ch = detector.channels
    gain = 1.0 + gain_drift
    cal = detector.energy_calibration
    # Channel i spans i-0.5 .. i+0.5 in the nominal calibration's channel coordinate; a true
    # gain change makes energy E land at (1 + g) times its nominal channel.
    edges = cal.energy((np.arange(n_ch + 1) - 0.5) / gain)
    widths = np.diff(edges)
    centres = cal.energy(np.arange(n_ch) / gain)

    lines = _line_table(detector, sources, library)
    e = lines.energy
    eff = detector.efficiency(e)
    photon_rate = lines.activity * lines.intensity  # photons per second
    peak_rate = photon_rate * eff  # full-energy counts per live second
    compton_rate = peak_rate * detector.compton_to_peak_ratio(e)
    fwhm_det = detector.fwhm(e)
    fwhm = np.sqrt(fwhm_det**2 + lines.extra_fwhm**2)
    sigma = fwhm / FWHM_PER_SIGMA
    centroid = gain * cal.channel(e)
    sigma_ch = sigma / cal.slope(cal.channel(e)) * gain

    peaks, steps = _peaks_and_steps(
        detector, edges, widths, e, sigma, centroid, sigma_ch, peak_rate
    )
    compton = _compton(detector, edges, centres, widths, cal, gain, e, sigma, compton_rate)
    backscatter = _backscatter(detector, centres, widths, cal, gain, e, compton_rate)
    ambient = (
        detector.ambient_continuum_at_100kev
        * (np.maximum(centres, 1.0) / 100.0) ** (-detector.ambient_continuum_index)
        * widths
    )
    # The discriminator removes the lowest pulses (no peak lies there).
    lld = ndtr((centres - detector.lld_kev) / detector.lld_width_kev)
    components = {
        "peaks": peaks,
        "steps": steps * lld,
        "compton": compton * lld,
        "backscatter": backscatter * lld,
        "ambient_continuum": ambient * lld,
    }
    rate = float(sum(float(c.sum()) for c in components.values()))
    if live_time is None:
        live_time = live_time_for(detector, real_time, rate)
    for c in components.values():
        c *= live_time
    counts = sum(components.values())

    gauss_frac = 1.0 - detector.tail_fraction
    area = peak_rate * live_time
    expected_lines = [
        ExpectedLine(
            nuclide=lines.nuclide[i],
            energy_kev=float(e[i]),
            intensity=float(lines.intensity[i]),
            kind=lines.kind[i],
            origin=lines.origin[i],
            activity_bq=float(lines.activity[i]),
            efficiency=float(eff[i]),
            area=float(area[i]),
            gaussian_area=float(area[i] * gauss_frac),
            tail_area=float(area[i] * detector.tail_fraction),
            channel=float(centroid[i]),
            fwhm_kev=float(fwhm[i]),
        )
        for i in range(len(e))
    ]
    return ExpectedSpectrum(
        counts=counts,
        lines=expected_lines,
        components=components,
        live_time=float(live_time),
        real_time=float(real_time),
        input_rate_cps=rate,
        gain_drift=float(gain_drift),
        detector=detector,
    )


def _peaks_and_steps(detector, edges, widths, e, sigma, centroid, sigma_ch, peak_rate):
    """Full-energy peaks (Gaussian + tail, bin-integrated) and their steps, per live second."""
    n_ch = detector.channels
    peaks = np.zeros(n_ch)
    steps = np.zeros(n_ch)
    if len(e) == 0:
        return peaks, steps
    tail_len = detector.tail_length_sigma
    lo = np.floor(centroid - (PEAK_SIGMAS_LOW + TAIL_LENGTHS * tail_len) * sigma_ch).astype(int)
    hi = np.ceil(centroid + PEAK_SIGMAS_HIGH * sigma_ch).astype(int)
    lo = np.clip(lo, 0, n_ch - 1)
    hi = np.clip(hi, 0, n_ch - 1)
    # The CDFs at the edges lo .. hi+1 of each line's bins; neighbours bound a bin.
    ln_edge, edge_idx = _ragged(lo, hi + 2)
    z = (edges[edge_idx] - e[ln_edge]) / sigma[ln_edge]
    phi = ndtr(z)
    tail = _tail_cdf(z, 1.0 / tail_len, phi)
    step = _step_integral(z, phi)
    pair = ln_edge[1:] == ln_edge[:-1]
    ln, bins = ln_edge[:-1][pair], edge_idx[:-1][pair]

    f = detector.tail_fraction
    gauss_mass = (phi[1:] - phi[:-1])[pair]
    tail_mass = (tail[1:] - tail[:-1])[pair]
    values = peak_rate[ln] * ((1.0 - f) * gauss_mass + f * tail_mass)
    peaks += np.bincount(bins, weights=values, minlength=n_ch)

    # Step: height step_ratio x the Gaussian peak height (per keV), shaped 1 - Phi below the
    # peak; integrated exactly inside the window, constant below it down to channel 0.
    height = detector.step_ratio * peak_rate * (1.0 - f) / (_SQRT2PI * sigma)
    # (far above the peak both terms vanish and rounding could leave a -1e-19)
    in_window = (height * sigma)[ln] * np.maximum(step[1:] - step[:-1], 0.0)[pair]
    steps += np.bincount(bins, weights=in_window, minlength=n_ch)
    below = np.bincount(lo, weights=height, minlength=n_ch + 1)
    level = np.cumsum(below[::-1])[::-1]  # level[c] = sum of heights of lines with lo >= c
    steps += level[1:] * widths
    return peaks, steps


def _compton(detector, edges, centres, widths, cal, gain, e, sigma, compton_rate):
    """Compton continuum per line: Klein-Nishina up to the edge, the edge smeared by the
    resolution there, and a multiple-scatter shelf from the edge to the peak."""
    n_ch = detector.channels
    out = np.zeros(n_ch)
    use = compton_rate > NEGLIGIBLE_RATE_CPS
    if not np.any(use):
        return out
    e, sigma, rate = e[use], sigma[use], compton_rate[use]
    m = len(e)
    edge = 2.0 * e * e / (ELECTRON_MASS_KEV + 2.0 * e)
    sigma_edge = detector.fwhm(edge) / FWHM_PER_SIGMA

    def ch(energy):
        return np.clip(np.floor(gain * cal.channel(energy)).astype(int), 0, n_ch)

    # Far below the edge the Klein-Nishina shape is smooth: evaluate it at the edges of
    # blocks of KN_BLOCK channels and interpolate linearly inside them (error < 1e-4),
    # which makes this part cost almost nothing.
    blocks = ch(edge - EDGE_SIGMAS * sigma_edge) // KN_BLOCK
    ln_node, node = _ragged(np.zeros_like(blocks), np.where(blocks > 0, blocks + 1, 0))
    node_e = edges[node * KN_BLOCK]
    kn_node = _klein_nishina(np.maximum(node_e, 0.0), e[ln_node])
    pair = ln_node[1:] == ln_node[:-1]  # consecutive nodes of one line bound a block
    ln_s, blk = ln_node[:-1][pair], node[:-1][pair]
    kn_left, kn_right = kn_node[:-1][pair], kn_node[1:][pair]
    block_kev = node_e[1:][pair] - node_e[:-1][pair]
    kn_smooth_total = np.bincount(ln_s, 0.5 * (kn_left + kn_right) * block_kev, minlength=m)

    # Around the edge and around the peak, per channel: the smeared edge and the two ends of
    # the multiple-scatter shelf; between them the shelf is flat.
    split = blocks * KN_BLOCK
    top = np.minimum(ch(e + EDGE_SIGMAS * sigma) + 1, n_ch)
    flat_lo = np.minimum(ch(edge + EDGE_SIGMAS * sigma_edge) + 1, top)
    flat_hi = np.maximum(ch(e - EDGE_SIGMAS * sigma), flat_lo)
    ln_n, ch_n = _ragged(np.concatenate([split, flat_hi]), np.concatenate([flat_lo, top]))
    ln_n %= m
    t = centres[ch_n]
    en, edge_n, sig_e = e[ln_n], edge[ln_n], sigma_edge[ln_n]
    below_edge = 0.5 * erfc((t - edge_n) / (_SQRT2 * sig_e))
    kn_n = _klein_nishina(np.clip(t, 0.0, edge_n), en) * below_edge * widths[ch_n]
    shelf = (1.0 - below_edge) * 0.5 * erfc((t - en) / (_SQRT2 * sigma[ln_n])) * widths[ch_n]
    cum_width = np.concatenate([[0.0], np.cumsum(widths)])
    flat_width = cum_width[flat_hi] - cum_width[flat_lo]

    kn_total = kn_smooth_total + np.bincount(ln_n, kn_n, minlength=m)
    shelf_total = np.bincount(ln_n, shelf, minlength=m) + flat_width
    q = detector.multiple_scatter_fraction
    kn_scale = (1.0 - q) * rate / np.where(kn_total > 0, kn_total, 1.0)
    shelf_scale = q * rate / np.where(shelf_total > 0, shelf_total, 1.0)
    out += np.bincount(ch_n, kn_n * kn_scale[ln_n] + shelf * shelf_scale[ln_n], minlength=n_ch)
    flat = np.bincount(flat_lo, shelf_scale, minlength=n_ch + 1)
    flat -= np.bincount(flat_hi, shelf_scale, minlength=n_ch + 1)
    out += np.cumsum(flat)[:n_ch] * widths

    # Sum the block-edge densities of all lines, then interpolate inside each block.
    n_blk = -(-n_ch // KN_BLOCK)
    dens_left = np.bincount(blk, kn_left * kn_scale[ln_s], minlength=n_blk)
    dens_right = np.bincount(blk, kn_right * kn_scale[ln_s], minlength=n_blk)
    frac = (np.arange(n_blk * KN_BLOCK) % KN_BLOCK + 0.5) / KN_BLOCK
    density = np.repeat(dens_left, KN_BLOCK) * (1.0 - frac) + np.repeat(dens_right, KN_BLOCK) * frac
    out += density[:n_ch] * widths
    return out


def _backscatter(detector, centres, widths, cal, gain, e, compton_rate):
    """Photons scattered back by the chamber wall and shield: a broad bump near E/(1 + 2E/mc^2)."""
    n_ch = detector.channels
    out = np.zeros(n_ch)
    rate = detector.backscatter_fraction * compton_rate
    use = rate > NEGLIGIBLE_RATE_CPS
    if not np.any(use):
        return out
    e, rate = e[use], rate[use]
    e_bs = e / (1.0 + 2.0 * e / ELECTRON_MASS_KEV)
    sigma = np.sqrt(
        (detector.fwhm(e_bs) / FWHM_PER_SIGMA) ** 2
        + (detector.backscatter_relative_width * e_bs) ** 2
    )
    lo = np.clip(
        np.floor(gain * cal.channel(e_bs - BACKSCATTER_SIGMAS * sigma)).astype(int), 0, n_ch - 1
    )
    hi = np.clip(
        np.ceil(gain * cal.channel(e_bs + BACKSCATTER_SIGMAS * sigma)).astype(int), 0, n_ch - 1
    )
    # the bump is at least ten channels wide: its density at the channel centres is exact
    # to a few 1e-4 of its shape, and the normalisation below makes its area exact
    ln, ch = _ragged(lo, hi + 1)
    z = (centres[ch] - e_bs[ln]) / sigma[ln]
    mass = np.exp(-0.5 * z * z) * widths[ch]
    total = np.bincount(ln, mass, minlength=len(e))
    scale = rate / np.where(total > 0, total, 1.0)
    out += np.bincount(ch, mass * scale[ln], minlength=n_ch)
    return out


def sample(expected: ExpectedSpectrum, rng: np.random.Generator | int) -> np.ndarray:
    """Poisson counts per channel (int64), as an MCA records them."""
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    return rng.poisson(expected.counts).astype(np.int64)
