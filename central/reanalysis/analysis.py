"""The central re-analysis of one spectrum: one joint Poisson fit of every library line.

1. Guess the energy-scale correction from the strong lines found (gain.py).
2. Fit all regions at once: per nuclide one activity that scales all its gamma lines
   (with the efficiency and intensity of each), x-ray groups, annihilation and the steps
   of strong lines as nuisance amplitudes, a positive log-polynomial baseline per region,
   and line-shape parameters shared by the whole spectrum (gain, offset, width, tail,
   step), free as far as strong lines pin them. Interferences are handled by
   construction: overlapping lines are in the same region, and each interferer is tied to
   its other lines (I-131 80.2 to 364.5 keV, Xe-133 160.6 to 81.0 keV, Bi-214 609.3 to
   1120/1764 keV, Tl-208 510.7 to 583/2614 keV, I-133 510.5 to 529.9 keV).
3. Refit with one free area per gamma line (tail and step free) for the per-line report.
4. Per nuclide: counting uncertainty from the inverse Fisher information (one count per
   region added, n + 1; below zero u^2(y) = u^2(0) + kappa y as above zero); calibration
   part from the efficiency curve; decision threshold and detection limit from the
   estimate's distribution under the null (limits.py); concentration and release
   (conversion.py). docs/analysis-central.md has the formulas.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.special import chdtrc

from shared.calibration import CalibrationError, calibrations_of
from shared.formats.ims import Message
from shared.formats.phd import Phd
from shared.nuclear import XENON, Library, load_library
from shared.nuclear.summing import total_efficiency
from shared.results import (
    AnalysisError,
    AnalysisResult,
    LineResult,
    NuclideResult,
    PeakResult,
    calibration_misses,
)
from shared.timeutil import iso_z

from . import fit as fitting
from .components import NUCLIDE, STEP_LINE, Component, ModelLine, build_components, with_steps
from .conversion import missing, release_factors
from .gain import MIN_INTENSITY, MIN_SIGNIFICANCE, ScaleGuess, guess_scale, significance
from .limits import limits, upper_quantile
from .model import (
    ANN_FWHM,
    ETA,
    GAIN,
    LOG_TAIL,
    OFFSET,
    SHAPE_NAMES,
    STEP,
    WIDTH,
    SpectrumModel,
)

METHOD = "central"
METHOD_VERSION = "central-joint-1.2"

MIN_CHANNELS = 256
STABLE_LINES = (("Pb-214", 351.932), ("Bi-214", 609.312), ("K-40", 1460.822), ("Tl-208", 2614.511))

# Priors of the shape parameters: (mean, standard deviation); the mean of gain and offset
# is the first guess. Strong lines pull them where they belong; without strong lines
# they stay near the PHD's calibration.
SHAPE_PRIOR_SD = {
    GAIN: 5e-4,
    OFFSET: 0.3,
    WIDTH: 0.05,
    ETA: 0.015,
    LOG_TAIL: 1.0,
    STEP: 0.01,
    ANN_FWHM: 1.5,
}
# gain, offset, width, tail fraction, log tail length, step, annihilation FWHM
SHAPE_BOUNDS = (
    np.array([-0.02, -5.0, 0.5, 0.0, math.log(0.2), 0.0, 0.0]),
    np.array([0.02, 5.0, 2.0, 0.5, math.log(20.0), 0.2, 20.0]),
)
LINE_FIT_FREE = np.array([False, False, False, True, True, True, False])
DECISION_ITERATIONS = 2
# Under the null hypothesis a row keeps at least this share of its fitted counts: where a
# line of the nuclide stands on a baseline fitted near zero (the edge of a wide region),
# removing the line's counts outright would make 1/mu0 huge there and u0 a fraction of
# the estimate's own uncertainty (measured: I-133 beside a strong Xe-135m, u0 = u / 4,
# false detections 7 %); a fit without the nuclide would let the baseline take them up.
NULL_SHARE = 0.5
LOWEST_DEPTH = 0.8  # of the starting baseline under a line's peak: see _lowest_amplitudes
TAIL_MIN_SIGNIFICANCE = 50.0  # ~2500 net counts in the strongest line
STEP_MIN_SIGNIFICANCE = 150.0  # ~20 000 net counts: the line gets a step of its own
# The relative standard uncertainty of each line's intensity is the library's
# (`Line.intensity_rel_unc`, shared/nuclear/library.json with its source).
LINE_P_VALUE = 0.01  # a nuclide's lines disagree below this p-value of their chi^2
TAIL_FRACTION0 = 0.015
TAIL_LENGTH0 = 1.0  # in sigma
STEP0 = 0.0


class _ShiftedEnergy:
    """The energy calibration in array indices when the file's channels start at 1."""

    def __init__(self, cal, first: int):
        self._cal, self._first = cal, first

    def energy(self, index):
        return self._cal.energy(np.asarray(index) + self._first)

    def channel(self, energy):
        return self._cal.channel(energy) - self._first

    def slope(self, index):
        return self._cal.slope(np.asarray(index) + self._first)


class _Calibrations:
    def __init__(self, energy, resolution, efficiency, checks=(), warnings=()):
        self.energy, self.resolution, self.efficiency = energy, resolution, efficiency
        self.checks, self.warnings = checks, warnings


@dataclass(frozen=True)
class FittedLine:
    """One line of the joint model (steps left out) with its fitted area."""

    energy_kev: float  # library energy
    area: float  # fitted net counts
    nuclide: str  # the nuclide, or the x-ray group (Xe-K, Cs-K, Pb-K, Bi-K)


@dataclass(frozen=True)
class FittedModel:
    """The central method's joint Poisson fit of one spectrum, before any per-nuclide step.

    `analyze` reports from it; the spectrum viewer draws it (central/spectrum_fit.py).
    Per fitted channel (regions in order): `channels` (array index, 0 = the spectrum's
    first), `regions` (fit region of each), `continuum()` (the log-polynomial baseline
    of each region) and `total()` (the baseline, every line's shape and the steps of
    strong lines); `fitted_lines()` the lines' areas.
    """

    phd: Phd
    counts: np.ndarray
    calibrations: _Calibrations
    live_time_s: float
    real_time_s: float
    components: list[Component]
    guess: ScaleGuess  # the first guess of the energy scale
    theta0: np.ndarray  # the shape parameters' start and prior means
    model: SpectrumModel
    fit: fitting.PoissonFit
    free_shape: np.ndarray  # which shape parameters the joint fit freed

    @property
    def channels(self) -> np.ndarray:
        return self.model.channels.astype(int)

    @property
    def regions(self) -> np.ndarray:
        return self.model.region_of_row.astype(int)

    def continuum(self) -> np.ndarray:
        _, b, _ = self.model.split(self.fit.p)
        return np.asarray(self.model.baseline(b), float)

    def total(self) -> np.ndarray:
        a, _, theta = self.model.split(self.fit.p)
        return self.continuum() + self.model.peaks(a, theta)

    def fitted_lines(self) -> list[FittedLine]:
        a, _, _ = self.model.split(self.fit.p)
        areas = self.model.line_counts(a)
        return [
            FittedLine(ln.energy, float(areas[i]), ln.group or ln.source)
            for i, ln in enumerate(self.model.lines)
            if ln.kind != STEP_LINE
        ]


def fitted_model(
    phd: Phd | Message, *, source: str = "", library: Library | None = None
) -> FittedModel:
    """Steps 1-2 of the method (the checked input, the model's components, the first
    guess of the energy scale, the joint fit) on one spectrum. Raises AnalysisError for
    unusable input, as `analyze` does."""
    phd = _sample_of(phd, source)
    lib = library or load_library()
    counts, cal, live, real = _checked_input(phd, source)
    n_ch = len(counts)
    e_first, e_last = (float(cal.energy.energy(i)) for i in (0, n_ch - 1))
    if not e_last > e_first:
        raise AnalysisError(f"{source}: the energy calibration does not increase with channel")
    eps_total = total_efficiency(phd.total_efficiency, cal.efficiency.efficiency)
    components, lines = build_components(
        lib, cal.efficiency, live, max(e_first, 1.0), e_last, eps_total
    )
    if not lines:
        raise AnalysisError(f"{source}: no library line within {e_first:.0f}-{e_last:.0f} keV")
    strong = np.array(
        [ln.energy for ln in lines if ln.kind == "gamma" and ln.intensity >= MIN_INTENSITY]
    )
    guess = guess_scale(counts, cal, strong)
    components, lines = with_steps(
        components, lines, [e for e, _, sig in guess.lines if sig >= STEP_MIN_SIGNIFICANCE]
    )
    theta0 = np.array(
        [guess.gain, guess.offset_kev, 1.0, TAIL_FRACTION0, math.log(TAIL_LENGTH0), STEP0, 0.0]
    )
    ann = [ln.extra_fwhm_kev for ln in lines if ln.kind == "annihilation"]
    theta0[ANN_FWHM] = ann[0] if ann else 0.0
    model, result, free_shape = _joint_fit(counts, cal, components, lines, theta0, guess)
    return FittedModel(
        phd, counts, cal, live, real, components, guess, theta0, model, result, free_shape
    )


def analyze(
    phd: Phd | Message, *, source: str = "", library: Library | None = None
) -> AnalysisResult:
    """Analyse one spectrum with the central method. Raises AnalysisError for unusable input."""
    started = time.perf_counter()
    fm = fitted_model(phd, source=source, library=library)
    phd, cal, live, real = fm.phd, fm.calibrations, fm.live_time_s, fm.real_time_s
    components, guess, theta0 = fm.components, fm.guess, fm.theta0
    model, result, free_shape = fm.model, fm.fit, fm.free_shape
    warnings: list[str] = list(cal.warnings)
    if not result.converged:
        warnings.append("joint fit stopped before convergence")
    _, _, theta = model.split(result.p)
    result = _referenced(model, result)
    cov = _covariance(model, result)
    by_line = _line_fit(model, result, free_shape, theta0)

    interval = _interval_s(phd, real)
    lacking = missing(phd.stack)
    if lacking:
        warnings.append(f"#Stack lacks {', '.join(lacking)}: no concentration or release")
    nuclides = {}
    null = _NullBackground(model, result)
    for k in _reported(components):
        res = _nuclide_result(
            k, components[k], model, result, cov, by_line, cal, phd, interval, null
        )
        nuclides[components[k].name] = res
        if res.lines_consistent is False:
            warnings.append(
                f"{res.nuclide}: the lines disagree (chi2 {res.lines_chi2:.1f}, {res.lines_dof}"
                f" degrees of freedom); uncertainty widened by the Birge ratio"
                f" {res.birge_ratio:.2f}"
            )
    peaks = _peaks(model, result, cov, nuclides)
    if guess.lines == () and any(n.detected for n in nuclides.values()):
        warnings.append("no strong line to check the energy scale; PHD calibration used as is")
    shifts = {}
    for name, e in STABLE_LINES:
        if name in nuclides and nuclides[name].detected:
            shifts[f"{name} {e:g}"] = float(e * theta[GAIN] + theta[OFFSET])
    return AnalysisResult(
        method=METHOD,
        method_version=METHOD_VERSION,
        source=source,
        station=phd.header.station,
        detector=phd.header.detector,
        srid=phd.header.srid,
        acquisition_start=iso_z(phd.acquisition.start),
        live_time_s=live,
        real_time_s=real,
        interval_s=interval,
        nuclides=nuclides,
        peaks=peaks,
        energy_shift_kev=shifts,
        gain_correction=1.0 + float(theta[GAIN]),
        elapsed_s=time.perf_counter() - started,
        warnings=warnings,
        calibration_misses=calibration_misses(cal.checks),
        efficiency_model=cal.efficiency.model,
    )


# ------------------------------------------------------------------------ input
def _sample_of(phd, source: str) -> Phd:
    if isinstance(phd, Message):
        inner = phd.phd
        if inner is None:
            raise AnalysisError(f"{source}: the message holds no PHD section")
        return inner
    if not isinstance(phd, Phd):
        raise AnalysisError(f"{source}: expected a PHD, got {type(phd).__name__}")
    return phd


def _checked_input(phd: Phd, source: str):
    where = f"{source}: " if source else ""
    if phd.header.system_type == "B":
        raise AnalysisError(
            f"{where}system type B (beta-gamma coincidence): the method analyses the gamma "
            "spectra of germanium detectors (system types P and G)"
        )
    if phd.g_spectrum is None:
        raise AnalysisError(f"{where}no gamma spectrum (#g_Spectrum)")
    if phd.acquisition is None:
        raise AnalysisError(f"{where}no #Acquisition block (live time unknown)")
    live, real = float(phd.acquisition.live_time), float(phd.acquisition.real_time)
    if not live > 0:
        raise AnalysisError(f"{where}#Acquisition: live time must be positive, found {live:g} s")
    counts = np.asarray(phd.g_spectrum.counts, dtype=float)
    if len(counts) < MIN_CHANNELS:
        raise AnalysisError(
            f"{where}#g_Spectrum: {len(counts)} channels; the method needs at least {MIN_CHANNELS}"
        )
    if np.any(counts < 0):
        raise AnalysisError(f"{where}#g_Spectrum: negative counts")
    if counts.sum() == 0:
        raise AnalysisError(f"{where}#g_Spectrum: the spectrum is empty")
    try:
        cal = calibrations_of(phd)
    except CalibrationError as exc:
        raise AnalysisError(f"{where}calibration: {exc}") from None
    first = phd.g_spectrum.first_channel
    energy = _ShiftedEnergy(cal.energy, first) if first else cal.energy
    cals = _Calibrations(energy, cal.resolution, cal.efficiency, cal.checks, cal.warnings())
    return counts, cals, live, real or live


def _interval_s(phd: Phd, real: float) -> float:
    """The collection interval the release refers to (the real time without #Collection)."""
    c = phd.collection
    if c is not None:
        dt = (c.stop - c.start).total_seconds()
        if dt > 0:
            return dt
    return real


# -------------------------------------------------------------------------- fit
def _joint_fit(counts, cal, components, lines, theta0, guess):
    """The joint fit; shape parameters are free only as far as strong lines pin them.

    Without strong lines a free gain, offset or width would slide every weak line onto
    the nearest upward fluctuation (a look-elsewhere effect the Fisher information does
    not see), and blanks would be detected too often. One line found frees the gain and
    the width, two far apart the offset too (as in the first guess); the tail and the
    step need a line of some thousand counts, the annihilation width a visible 511 keV.
    """
    comp_of_line = np.array([ln.component for ln in lines])
    weight = np.array([ln.counts_per_unit for ln in lines])
    model = SpectrumModel(counts, cal, lines, comp_of_line, weight, len(components), theta0)
    p0 = _start(model, theta0)
    energies = [e for e, _, _ in guess.lines]
    free_shape = np.zeros(len(SHAPE_NAMES), bool)
    free_shape[[GAIN, WIDTH]] = len(energies) >= 1
    free_shape[OFFSET] = len(energies) >= 2 and max(energies) - min(energies) > 150.0
    free_shape[[ETA, LOG_TAIL, STEP]] = guess.strongest >= TAIL_MIN_SIGNIFICANCE
    ann = [ln for ln in lines if ln.kind == "annihilation"]
    free_shape[ANN_FWHM] = bool(ann) and (
        significance(counts, cal, ann[0].energy, ann[0].extra_fwhm_kev) >= MIN_SIGNIFICANCE
    )
    return model, _run(model, p0, free_shape, theta0), free_shape


def _run(model: SpectrumModel, p0, free_shape, theta_mean):
    free = np.concatenate(
        [
            np.arange(model.n_amp + model.n_base),
            model.n_amp + model.n_base + np.flatnonzero(free_shape),
        ]
    )
    sd = np.array([SHAPE_PRIOR_SD[j] for j in range(len(SHAPE_NAMES))])
    prior_mean = np.zeros(len(free))
    prior_weight = np.zeros(len(free))
    n_lin = model.n_amp + model.n_base
    prior_mean[n_lin:] = theta_mean[free_shape]
    prior_weight[n_lin:] = 1.0 / sd[free_shape] ** 2
    lower = np.full(len(free), -np.inf)
    upper = np.full(len(free), np.inf)
    lower[: model.n_amp] = _lowest_amplitudes(model, p0)
    lo_shape, hi_shape = SHAPE_BOUNDS[0][free_shape], SHAPE_BOUNDS[1][free_shape]
    lower[n_lin:], upper[n_lin:] = lo_shape, hi_shape
    return fitting.fit_poisson(
        model.mu,
        lambda p: model.jacobian(p, free_shape),
        model.n,
        p0,
        free,
        prior_mean,
        prior_weight,
        lower,
        upper,
    )


def _lowest_amplitudes(model: SpectrumModel, p0) -> np.ndarray:
    """Lower bounds of the amplitudes: negative lines, as deep as the baseline allows.

    ISO 11929's primary result is unbounded, and a line held at zero would leave its
    deficit to the baseline and raise the lines beside it (blanks detected too often, and
    pulls at zero activity narrower than 1). But a negative line over empty channels
    drives mu to zero, where the likelihood has its optimum on the edge of the domain and
    the fit creeps: each line may dig at most LOWEST_DEPTH of the starting baseline under
    its own peak. Steps stay >= 0: they exist only below strong lines.
    """
    _, b, theta = model.split(p0)
    rows, cols, vals = model.amplitude_entries(theta)
    base = model.baseline(b)
    # per column, over its entries well above its largest
    top = np.full(model.n_amp, -np.inf)
    np.maximum.at(top, cols, vals)
    big = vals > 1e-3 * top[cols]
    lowest = np.full(model.n_amp, np.inf)
    np.minimum.at(lowest, cols[big], base[rows[big]] / vals[big])
    some = np.isfinite(lowest)
    lower = np.zeros(model.n_amp)
    lower[some] = -LOWEST_DEPTH * lowest[some]
    lower[np.unique(model.line_amplitude[model.is_step])] = 0.0
    return lower


def _one_count_per_region(model: SpectrumModel) -> np.ndarray:
    return 1.0 / np.bincount(model.region_of_row)[model.region_of_row]


def _referenced(model: SpectrumModel, result: fitting.PoissonFit) -> fitting.PoissonFit:
    """The fit with its information evaluated where the uncertainties should be.

    At the fitted counts with the negative amplitudes at zero: a line that fluctuated
    below its baseline lowers mu there, and 1/mu would make it look more precise than a
    line at zero (pulls of blanks wider than 1, and the lowest estimates the most
    certain). Plus one count per region (see PoissonFit.with_floor). The variances of
    the negative amplitudes are then those of their own estimate: see _covariance.
    """
    p = result.p.copy()
    negative = np.flatnonzero(p[: model.n_amp] < 0)
    if len(negative):
        p[negative] = 0.0
        mu = model.mu(p)
    else:
        mu = result.mu
    return result.with_reference(mu + _one_count_per_region(model))


def _covariance(model: SpectrumModel, ref: fitting.PoissonFit) -> np.ndarray:
    """The covariance of a _referenced fit, with u^2(y) = u^2(0) + kappa y below zero too.

    ISO 11929's standard uncertainty of a primary result y is that of its own counts,
    u^2(y) = u^2(0) + kappa y with kappa = sum_i c_i^2 dmu_i/dy and c the estimate's linear
    weights (section 7). Above zero the reference counts hold the line's own counts and
    give that; below zero they hold the line at zero, so the term kappa y (< 0) is added
    here, to the diagonal (the only part used), with the weights at zero. Without it an
    estimate above zero carried its own counts into u and one below did not: at few
    counts the estimate is skewed to the right, its upper tail had u > u(0) and its lower
    tail u(0), and the pulls at zero activity were narrow (Xe-131m, 0-3 counts: SD 0.83).

    An amplitude held by its lower bound (_lowest_amplitudes) keeps u(0): the bound, not
    the counts, decided it, and the likelihood's optimum lies below it, so there is no
    primary result to evaluate u(y) at (at the bound kappa y would remove most of u^2:
    the bound is a fixed share of the baseline).
    """
    cov = ref.covariance()
    a = ref.p[: model.n_amp]
    lowest = ref.lower[: model.n_amp] if ref.lower is not None else np.full(len(a), -np.inf)
    held = np.isfinite(lowest) & (a <= lowest * (1.0 - 1e-9))  # the fit clips onto it
    negative = np.flatnonzero((a < 0) & ~held)
    if len(negative):
        cols = ref.jac.columns(negative)  # dmu/da of those amplitudes (the free ones first)
        c = ref.jac.matmat(cov[:, negative]) / ref.mu_ref[:, None]
        kappa = np.sum(cols * (c * c), axis=0)
        cov[negative, negative] += kappa * a[negative]
    return cov


def _start(model: SpectrumModel, theta) -> np.ndarray:
    """Baselines through the region edges, amplitudes by weighted least squares."""
    b = np.zeros(model.n_base)
    for k, r in enumerate(model.regions):
        seg = model.n[r.rows]
        m = max(1, len(seg) // 8)
        lo, hi = seg[:m].sum() / m, seg[-m:].sum() / m  # np.mean's operations
        level = max(0.5 * (lo + hi), 0.05)
        idx = model.base_index[k]
        b[idx[0]] = math.log(level)
        if len(idx) > 1:
            b[idx[1]] = float(np.clip(0.5 * math.log((hi + 0.5) / (lo + 0.5)), -3, 3))
    base = model.baseline(b)
    cols = model.amplitude_columns(theta)
    w = 1.0 / np.maximum(model.n, 1.0)
    lhs = (cols.T @ (cols.multiply(w[:, None]))).toarray()
    rhs = cols.T @ (w * (model.n - base))
    lhs += np.diag(np.maximum(np.diag(lhs), 1e-30) * 1e-9 + 1e-30)
    try:
        a = fitting.solve(lhs, rhs)
    except np.linalg.LinAlgError:
        a = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    for _ in range(40):
        p = np.concatenate([a, b, theta])
        if np.all(model.mu(p) > 0):
            return p
        a = np.where(a < 0, 0.5 * a, a)
    return np.concatenate([np.maximum(a, 0.0), b, theta])


def _line_fit(model: SpectrumModel, joint, free_shape, theta_prior):
    """Refit with one area per gamma line (x-ray groups and annihilation as before).

    The shape parameters are refitted too: with the lines tied, the joint fit used the
    counts of a weak line beside a strong one to fit the strong line's tail, so with the
    joint shape fixed the weak line's own area could only repeat the tied value.
    """
    a, b, theta = model.split(joint.p)
    amp_of_line = np.empty(len(model.lines), int)
    weight = np.empty(len(model.lines))
    shared: dict[tuple, int] = {}
    for i, ln in enumerate(model.lines):
        if ln.kind == "gamma":
            key, w = ("line", i), 1.0
        else:  # x-ray groups, annihilation and steps keep their one amplitude
            key, w = ("component", ln.component), ln.counts_per_unit
        amp_of_line[i] = shared.setdefault(key, len(shared))
        weight[i] = w
    n = len(shared)
    lm = SpectrumModel(
        model.counts, model.cal, model.lines, amp_of_line, weight, n, theta, regions=model.regions
    )
    start = np.empty(n)
    start[amp_of_line] = a[model.line_amplitude] * model.line_weight / weight
    p0 = np.concatenate([start, b, theta])
    res = _referenced(lm, _run(lm, p0, free_shape & LINE_FIT_FREE, theta_prior))
    cov = _covariance(lm, res)
    area = res.p[amp_of_line] * weight
    area_unc = np.sqrt(np.maximum(np.diag(cov)[amp_of_line], 0.0)) * weight
    return {
        "model": lm,
        "fit": res,
        "area": area,
        "area_unc": area_unc,
        "amplitude": amp_of_line,
        "weight": weight,
        "cov": cov,
    }


# ------------------------------------------------------------------ per nuclide
def _reported(components: list[Component]) -> list[int]:
    ks = [
        k
        for k, c in enumerate(components)
        if c.kind == NUCLIDE and c.nuclide is not None and c.nuclide.half_life_s is not None
    ]
    order = {name: i for i, name in enumerate(XENON)}
    return sorted(ks, key=lambda k: (order.get(components[k].name, len(order)), k))


def _nuclide_result(
    k, comp, model, result, cov, by_line, cal, phd, interval, null=None
) -> NuclideResult:
    activity = float(result.p[k])
    u_count = math.sqrt(max(cov[k, k], 0.0))
    mine = [i for i, ln in enumerate(model.lines) if ln.component == k and ln.kind == "gamma"]
    line_results = []
    inv_var = []
    for i in mine:
        ln: ModelLine = model.lines[i]
        area, unc = float(by_line["area"][i]), float(by_line["area_unc"][i])
        cpu = ln.counts_per_unit
        line_results.append(
            LineResult(
                energy_kev=ln.energy,
                intensity=ln.intensity,
                efficiency=ln.efficiency,
                net_area=area,
                net_area_unc=unc,
                activity_bq=area / cpu,
                activity_unc_bq=unc / cpu,
                used=True,
            )
        )
        inv_var.append((cpu / unc) ** 2 if unc > 0 else 0.0)
    w = np.array(inv_var)
    w = w / w.sum() if w.sum() > 0 else np.full(len(mine), 1.0 / len(mine))
    energies = np.array([model.lines[i].energy for i in mine])
    eff_cov = np.atleast_2d(cal.efficiency.ln_covariance(energies))
    # efficiency errors of one curve are correlated between the lines: through the
    # curve's covariance of ln eps at their energies
    u_rel_eff = math.sqrt(max(float(w @ eff_cov @ w), 0.0))
    r_int = np.array([model.lines[i].intensity_rel_unc for i in mine])
    # the intensities of different lines are independent evaluations
    u_rel_nuclear = math.sqrt(float(np.sum((w * r_int) ** 2)))
    u_rel_nuclear = math.hypot(u_rel_nuclear, _normalisation_rel(comp.nuclide, w))
    # summing: every line's through the one total efficiency, so added linearly
    u_rel_summing = abs(float(np.dot(w, [model.lines[i].summing_rel_unc for i in mine])))
    u_rel = math.sqrt(u_rel_eff**2 + u_rel_nuclear**2 + u_rel_summing**2)
    check = _line_consistency(mine, by_line, model, eff_cov, r_int, max(activity, 0.0))
    u_dis = 0.0
    if check is not None and not check[2]:
        u_dis = check[3] * math.sqrt(check[0] / check[1] - 1.0)
    u_eff, u_nuc = abs(activity) * u_rel_eff, abs(activity) * u_rel_nuclear
    u_sum = abs(activity) * u_rel_summing
    u_total = math.sqrt(u_count**2 + u_eff**2 + u_nuc**2 + u_dis**2 + u_sum**2)

    lim = _decision(k, model, result, u_rel, null)
    detected = activity > lim.decision_threshold

    nuc = comp.nuclide
    hl_rel = nuc.half_life_unc_s / nuc.half_life_s if nuc.half_life_s else 0.0
    factors = release_factors(phd.stack, nuc.decay_constant, interval, hl_rel)
    u_hl = None
    if factors is None:
        conc = conc_u = release = release_u = dt_r = dl_r = lc_r = ld_r = None
    else:
        c, r = factors.concentration_per_bq, factors.release_per_bq
        # the half-life moves the conversion, not the chamber activity
        u_hl = abs(activity) * factors.half_life_rel
        u_conv = math.hypot(u_total, u_hl)
        conc, conc_u = activity * c, u_conv * c
        release, release_u = activity * r, u_conv * r
        dt_r, dl_r = lim.decision_threshold * r, lim.detection_limit * r
        lc_r, ld_r = lim.currie_lc * r, lim.currie_ld * r
    return NuclideResult(
        nuclide=comp.name,
        detected=bool(detected),
        activity_bq=activity,
        activity_unc_bq=u_total,
        activity_counting_unc_bq=u_count,
        concentration_bq_m3=conc,
        concentration_unc_bq_m3=conc_u,
        release_bq=release,
        release_unc_bq=release_u,
        decision_threshold_bq=dt_r,
        detection_limit_bq=dl_r,
        mdr_bq=dl_r,
        activity_decision_threshold_bq=lim.decision_threshold,
        activity_detection_limit_bq=lim.detection_limit,
        currie_lc_bq=lc_r,
        currie_ld_bq=ld_r,
        lines=line_results,
        efficiency_unc_bq=u_eff,
        nuclear_data_unc_bq=u_nuc,
        disagreement_unc_bq=u_dis,
        summing_unc_bq=u_sum,
        half_life_unc_bq=u_hl,
        lines_chi2=None if check is None else check[0],
        lines_dof=None if check is None else check[1],
        birge_ratio=None if check is None else math.sqrt(check[0] / check[1]),
        lines_consistent=None if check is None else check[2],
    )


def _normalisation_rel(nuclide, w) -> float:
    """u(A)/A from the nuclide's decay-scheme normalisation: one factor on all its gamma
    lines (fully correlated), so the weights add linearly (they sum to 1)."""
    nr = getattr(nuclide, "normalisation_rel_unc", 0.0) or 0.0
    return nr * abs(float(np.sum(w)))


def _line_consistency(mine, by_line, model, eff_cov, r_int, activity):
    """(chi^2, dof, consistent, internal u) of a nuclide's gamma lines, or None (< 2 lines).

    The activities of the per-line refit against their weighted mean, with the full
    covariance: the refit's (neighbouring lines are correlated), plus the efficiency
    curve's covariance and independent intensity uncertainties times the activity. The
    lines disagree when chi^2 exceeds its 1 - LINE_P_VALUE quantile; the caller then adds
    u_int sqrt(chi^2/dof - 1), i.e. widens the internal uncertainty u_int of the mean by
    the Birge ratio (the external uncertainty of a weighted mean).
    """
    cpu = np.array([model.lines[i].counts_per_unit for i in mine])
    unc = np.asarray(by_line["area_unc"])[mine] / cpu
    keep = np.flatnonzero(unc > 0)
    if len(keep) < 2:
        return None
    idx = [mine[j] for j in keep]
    amp = by_line["amplitude"][idx]
    scale = by_line["weight"][idx] / cpu[keep]
    a = np.asarray(by_line["area"])[idx] / cpu[keep]
    cov = by_line["cov"][np.ix_(amp, amp)] * np.outer(scale, scale)
    cov = cov + activity**2 * (eff_cov[np.ix_(keep, keep)] + np.diag(r_int[keep] ** 2))
    try:
        inv = np.linalg.inv(cov)
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(cov)
    ones = np.ones(len(keep))
    info = float(ones @ inv @ ones)
    if not info > 0:
        return None
    mean = float(ones @ inv @ a) / info
    r = a - mean
    chi2 = float(r @ inv @ r)
    dof = len(keep) - 1
    return chi2, dof, bool(chdtrc(dof, chi2) >= LINE_P_VALUE), 1.0 / math.sqrt(info)


class _NullBackground:
    """What every nuclide's null hypothesis shares: the fitted baseline, per row and
    summed per region."""

    def __init__(self, model: SpectrumModel, result):
        self.base = model.baseline(model.split(result.p)[1])
        self.per_region = np.bincount(model.region_of_row, self.base, minlength=len(model.regions))


def _decision(k: int, model: SpectrumModel, result, u_rel: float, null=None):
    """ISO 11929 limits of amplitude k from its estimate's distribution under the null.

    The background under the null hypothesis is the fitted one plus the counts of an
    activity at the decision threshold, spread over each region's baseline as a fit
    without the nuclide would absorb them (a score test at the threshold). Without
    that, a downward fluctuation of the side channels both raises the estimate and lowers
    its threshold, and blanks with a few counts per region are detected too often.
    """
    null = _NullBackground(model, result) if null is None else null
    col = _column(result.jac, k)  # d mu / d A_k
    rows = np.flatnonzero(col)
    base = null.base
    region = model.region_of_row
    per_region_signal = np.bincount(region, col, minlength=len(model.regions))
    spread = base * (per_region_signal / null.per_region)[region]  # counts per unit activity
    touched = np.flatnonzero(spread)
    mu_fit0 = result.mu_ref.copy()
    mu_fit0[rows] = np.maximum(
        result.mu_ref[rows] - max(result.p[k], 0.0) * col[rows],
        NULL_SHARE * result.mu_ref[rows],
    )
    y_star = 0.0
    block = _row_block(result.jac, touched)
    for _ in range(DECISION_ITERATIONS):  # the threshold moves little after the first
        mu0 = mu_fit0.copy()
        mu0[touched] += y_star * spread[touched]
        u0, kappa, c = _null_moments(k, result, mu0, col, touched, block)
        lim = limits(u0, kappa, u_rel, upper_quantile(c, mu0))
        y_star = lim.decision_threshold
    return lim


def _column(jac, k: int) -> np.ndarray:
    """Column k of the Jacobian as a dense vector."""
    return jac.column(k)


def _row_block(jac, rows) -> tuple[np.ndarray, np.ndarray]:
    """(columns, dense block): the rows of jac on the columns they touch."""
    return jac.row_block(rows)


def _null_moments(k, result, mu0, col, rows, block=None):
    """u0, kappa and the linear weights c of amplitude k's estimate for expected counts mu0.

    Near zero the estimate is linear in the counts, A = sum_i c_i n_i with
    c = diag(1/mu0) J F0^-1 e_k; kappa = d var / d A. Only the rows that mu0 changes
    re-weight the Fisher information; block: `_row_block(result.jac, rows)`, the part of
    the Jacobian they touch (dense: a few hundred rows on a few dozen columns).
    """
    jac = result.jac
    cols, sub = _row_block(jac, rows) if block is None else block
    dw = 1.0 / mu0[rows] - 1.0 / result.mu_ref[rows]
    info0 = result.information.copy()
    info0[np.ix_(cols, cols)] += sub.T @ (sub * dw[:, None])
    e = np.zeros(len(info0))
    e[k] = 1.0  # the amplitudes come first among the free parameters
    x = _solve(info0, e)
    var0 = max(float(x[k]), 0.0)
    c = jac.matvec(x) / mu0
    kappa = float(np.sum(c**2 * col))
    return math.sqrt(var0), kappa, c


def _solve(matrix, rhs):
    d = np.sqrt(np.abs(np.diag(matrix)))
    d[d == 0] = 1.0
    try:
        y = fitting.solve(matrix / d[:, None] / d[None, :], rhs / d)
    except np.linalg.LinAlgError:
        y = np.linalg.lstsq(matrix / d[:, None] / d[None, :], rhs / d, rcond=None)[0]
    return y / d


# ------------------------------------------------------------------------ peaks
def _peaks(model: SpectrumModel, result, cov, nuclides) -> list[PeakResult]:
    """The joint model's lines that stand out, or belong to a detected nuclide.

    Areas and their counting uncertainties are the joint fit's (the lines of a nuclide
    tied by its activity); each line's own area is in the nuclide's `lines`.
    """
    a, b, theta = model.split(result.p)
    areas = model.line_counts(a)
    amp_unc = np.sqrt(np.maximum(np.diag(cov)[: model.n_amp], 0.0))
    uncs = amp_unc[model.line_amplitude] * model.line_weight
    x0, sigma = model.positions(theta)
    base = model.baseline(b)
    fwhm_ch = 2.3548200450309493 * sigma
    chi2 = _region_chi2(model, result)
    out = []
    for i, ln in enumerate(model.lines):
        if ln.kind == STEP_LINE:
            continue
        area, unc = float(areas[i]), float(uncs[i])
        significant = unc > 0 and area > 3.0 * unc
        detected_nuclide = (
            ln.kind == "gamma" and ln.source in nuclides and nuclides[ln.source].detected
        )
        if not (significant or detected_nuclide):
            continue
        r = int(model.line_region[i])
        reg = model.regions[r]
        chans = model.channels[reg.rows]
        under = np.abs(chans - x0[i]) <= 1.5 * fwhm_ch[i]
        slope = abs(float(model.cal.energy.slope(x0[i])))
        out.append(
            PeakResult(
                energy_kev=float(model.cal.energy.energy(x0[i])),
                channel=float(x0[i]),
                fwhm_kev=float(fwhm_ch[i] * slope),
                net_area=area,
                net_area_unc=unc,
                continuum=float(base[reg.rows][under].sum()),
                nuclide=ln.group or ln.source,  # x-rays: the group (Xe-K, Cs-K, Pb-K, Bi-K)
                line_kev=ln.energy,
                found=bool(significant),
                region=r,
                reduced_chi2=chi2[r],
            )
        )
    return out


def _region_chi2(model: SpectrumModel, result) -> list[float | None]:
    n, mu = model.n, result.mu
    # the deviance terms of every row at once: elementwise, the values each region's own
    # slice gave; summed per region below as before (np.sum of the region's slice)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / mu), 0.0)
    terms = mu - n + t
    n_regions = len(model.regions)
    has = np.zeros((n_regions, model.n_amp), bool)  # amplitudes with a line in the region
    inside = model.line_region >= 0
    has[model.line_region[inside], model.line_amplitude[inside]] = True
    n_amps = has.sum(axis=1)
    out: list[float | None] = []
    for k, r in enumerate(model.regions):
        dev = float(2.0 * np.sum(terms[r.rows]))
        n_par = len(model.base_index[k]) + int(n_amps[k])
        dof = (r.rows.stop - r.rows.start) - n_par
        out.append(dev / dof if dof > 0 else None)
    return out


__all__ = ["METHOD", "METHOD_VERSION", "FittedLine", "FittedModel", "analyze", "fitted_model"]
