"""The station analysis of one spectrum: PHD in, AnalysisResult out.

calibrations -> drift check -> continuum and peak search -> library lines and found
peaks in regions -> Poisson fits in tie order -> activities, limits, release.
"""

from __future__ import annotations

import time

import numpy as np

from shared.calibration import CalibrationError, Calibrations, calibrations_of
from shared.formats.phd import Phd
from shared.nuclear import load_library
from shared.nuclear.library import Library
from shared.nuclear.summing import total_efficiency
from shared.results import (
    AnalysisError,
    AnalysisResult,
    LineResult,
    NuclideResult,
    PeakResult,
    calibration_misses,
    root_sum_square,
)
from shared.timeutil import iso_z

from .config import AnalysisConfig, config_from
from .continuum import continuum
from .drift import coarse_gain, fine_gain, stable_regions
from .fit import RegionFit, fit_region
from .limits import currie, iso11929
from .model import Region, build_regions, candidate_lines, compton_edges, identify
from .quantify import NuclideEstimate, Systematics, estimate_activities
from .release import ReleaseFactors, release_factors
from .scale import FWHM_PER_SIGMA, ChannelScale
from .search import matched_filter, search_peaks
from .shapes import gaussian_fraction_within

METHOD = "station"
VERSION = "1.0.0"


def analyze(
    phd: Phd,
    *,
    source: str = "",
    library: Library | None = None,
    config: AnalysisConfig | dict | None = None,
) -> AnalysisResult:
    """Analyse a gamma spectrum. Raises AnalysisError when the PHD cannot be analysed."""
    t0 = time.perf_counter()
    cfg = config_from(config)
    lib = library if library is not None else load_library()
    counts, live, real, cals, first = _usable_input(phd, source)
    size = counts.size
    # the calibration points the curves miss, and how the efficiency curve was chosen
    warnings: list[str] = cals.warnings()

    nominal = ChannelScale(cals.energy, cals.resolution, first)
    sigma = nominal.sigma_of_index(size)
    filtered = matched_filter(counts, sigma)
    found = search_peaks(counts, sigma, cfg.search_threshold, filtered)
    eps_total = total_efficiency(phd.total_efficiency, cals.efficiency.efficiency)
    lines = candidate_lines(lib, cfg, *_energy_range(nominal, size), eps_total)
    # the continuum's level is corrected on channels away from found peaks and library
    # lines (a weak line at the detection limit must not raise its own continuum)
    line_ch = nominal.index(np.array([ln.energy for ln in lines]))
    cont = continuum(
        counts,
        FWHM_PER_SIGMA * sigma,
        [*(p.channel for p in found), *line_ch],
        clip_fwhm=cfg.snip_window_fwhm,
    )
    eff = cals.efficiency

    def fit_at(gain: float) -> tuple[ChannelScale, list[RegionFit]]:
        scale = nominal.with_gain(gain)
        matched, unknown = identify(found, lines, scale, cfg.identify_tolerance_fwhm)
        regions = build_regions(
            lines,
            matched,
            unknown,
            scale,
            eff.efficiency,
            eff.relative_uncertainty,
            live,
            size,
            cfg,
            compton_edges(found, scale, cfg.edge_min_counts),
        )
        free_shift = stable_regions(regions, cfg.stable_lines)
        return scale, _fit_in_tie_order(counts, regions, cfg, free_shift)

    # drift: a coarse gain lining up the library lines, then the stable lines' fitted shifts
    g0 = coarse_gain(
        [p.channel + first for p in found],
        [p.significance for p in found],
        [sigma[int(p.channel)] for p in found],
        cals.energy.channel(np.array([ln.energy for ln in lines])),
        max_drift=cfg.coarse_drift,
    )
    scale, fits = fit_at(g0)
    drift = fine_gain(
        fits,
        scale,
        cfg.stable_lines,
        min_counts=cfg.drift_min_counts,
        significance=cfg.drift_significance,
    )
    if abs(drift.gain - 1.0) > cfg.max_gain_drift:
        warnings.append(
            f"the peaks sit at {drift.gain:.4f} times their calibrated channels: more than a"
            " drift, the energy calibration is not corrected (check #g_Energy)"
        )
        drift.gain, drift.significant = 1.0, False
    if abs(drift.gain - g0) * size > 0.25:  # moves the top of the spectrum by 1/4 channel
        scale, fits = fit_at(drift.gain)
    if abs(drift.gain - 1.0) > 0.5 * cfg.max_gain_drift:
        warnings.append(f"large gain drift corrected: channels x{drift.gain:.5f}")
    for fit in fits:
        fit.reference_continuum = cont[fit.lo : fit.lo + fit.counts.size]
    if abs(drift.gain - 1.0) > 0.005:
        warnings.append(f"large gain drift corrected: channels x{drift.gain:.5f}")

    reported = [n for n in cfg.nuclides if n in lib]
    estimates = estimate_activities(
        fits,
        [*reported, *(n for n in cfg.interferers if n in lib and n not in reported)],
        use_xrays=cfg.use_xrays,
        limits_for=reported,
        needed=reported,
        systematics=Systematics(
            eff.ln_covariance,
            cfg.intensity_rel_unc_gamma,
            cfg.intensity_rel_unc_xray,
            cfg.consistency_p_value,
            normalisation_rel=_normalisations(lib, cfg),
        ),
    )
    interval = _interval_s(phd)
    factors, why = release_factors(phd, lib, reported, interval)
    if why:
        warnings.append(why)
    nuclides = {}
    for name in reported:
        est = estimates.get(name)
        if est is None:
            warnings.append(f"{name}: no line inside the spectrum; no result")
            continue
        nuclides[name] = _nuclide_result(name, est, fits, factors, cfg, live, cont)
        if est.consistent is False:
            warnings.append(
                f"{name}: its lines disagree (chi2 {est.chi2:.1f} for {est.dof} degrees of"
                f" freedom, Birge ratio {np.sqrt(est.chi2 / est.dof):.2f}); the uncertainty"
                " is widened by the Birge ratio"
            )
    peaks = _peak_results(fits, scale, first)
    return AnalysisResult(
        method=METHOD,
        method_version=VERSION,
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
        energy_shift_kev=drift.shifts_kev,
        gain_correction=drift.gain,
        elapsed_s=time.perf_counter() - t0,
        warnings=warnings,
        calibration_misses=calibration_misses(cals.checks),
        efficiency_model=eff.model,
    )


def warm_up() -> None:
    """Compile the method's kernels (edge_agent/analysis/kernels.py), or load them from
    numba's cache, on small inputs, so that the first spectrum does not pay it (10-30 s
    after an install or an update, well under a second after): a service calls this before
    its clock starts."""
    from . import fit, kernels, quantify

    fit.warm_up()
    counts = np.arange(300, dtype=float) % 7.0
    matched_filter(counts, 2.0)
    continuum(counts, 4.7, [150.0])
    quantify._gls(np.array([1.0, 2.0]), np.ones((2, 1)), np.eye(2))
    kernels.area_covariance(
        np.ones((2, 1)), np.ones(2), 0.5, np.zeros(1), np.zeros(1, dtype=np.int64), np.ones(1)
    )


# ------------------------------------------------------------------------- input
def _usable_input(phd: Phd, source: str) -> tuple[np.ndarray, float, float, Calibrations, int]:
    where = f"{source}: " if source else ""
    if phd.g_spectrum is None or phd.g_spectrum.counts.size == 0:
        raise AnalysisError(f"{where}no #g_Spectrum: nothing to analyse")
    if phd.acquisition is None:
        raise AnalysisError(f"{where}no #Acquisition block: live time unknown")
    live, real = float(phd.acquisition.live_time), float(phd.acquisition.real_time)
    if not live > 0:
        raise AnalysisError(f"{where}#Acquisition: live time must be positive, found {live:g} s")
    try:
        cals = calibrations_of(phd)
    except CalibrationError as exc:
        raise AnalysisError(f"{where}cannot analyse without calibrations: {exc}") from None
    counts = np.asarray(phd.g_spectrum.counts, dtype=float)
    if counts.size < 256:
        raise AnalysisError(f"{where}#g_Spectrum: only {counts.size} channels")
    if np.any(counts < 0):
        raise AnalysisError(f"{where}#g_Spectrum: negative counts")
    first = int(phd.g_spectrum.first_channel)
    ch = np.array([0.0, counts.size - 1.0]) + first
    if np.any(np.diff(cals.energy.energy(np.linspace(ch[0], ch[1], 64))) <= 0):
        raise AnalysisError(f"{where}#g_Energy: energy does not increase over the spectrum")
    return counts, live, real, cals, first


def _energy_range(scale: ChannelScale, size: int) -> tuple[float, float]:
    e = scale.energy(np.array([0.0, size - 1.0]))
    return float(e[0]), float(e[1])


def _interval_s(phd: Phd) -> float:
    c = phd.collection
    if c is not None and c.stop > c.start:
        return (c.stop - c.start).total_seconds()
    return float(phd.acquisition.real_time)


# ---------------------------------------------------------------------- fitting
def _fit_in_tie_order(
    counts: np.ndarray, regions: list[Region], cfg: AnalysisConfig, free_shift: set[int]
) -> list[RegionFit]:
    """Fit regions so that a tied line's nuclide is known before the region that holds it."""
    sources: dict[str, set[int]] = {}
    for k, reg in enumerate(regions):
        for c in reg.components:
            if c.kind in ("nuclide", "annihilation") and c.nuclide:
                sources.setdefault(c.nuclide, set()).add(k)
    needs = {
        k: {c.nuclide for c in reg.components if c.kind == "tied"} for k, reg in enumerate(regions)
    }
    fits: dict[int, RegionFit] = {}
    known: dict = {}  # (nuclide, source regions) -> its estimate: fits do not change
    pending = list(range(len(regions)))
    while pending:
        ready = [
            k
            for k in pending
            if all((sources.get(n, set()) - {k}) <= fits.keys() for n in needs[k])
        ] or pending[:1]  # a cycle of ties: fit one region with what is known
        for k in ready:
            reg = regions[k]
            for c in reg.components:
                if c.kind == "tied":
                    c.prior = _tie_prior(c, fits, sources.get(c.nuclide, set()) - {k}, known)
            fits[k] = _fit_one(counts, reg, cfg, k in free_shift)
            pending.remove(k)
    return [fits[k] for k in range(len(regions))]


def _tie_prior(component, fits: dict[int, RegionFit], source_regions: set[int], known=None):
    """(mean, sd) of a tied area from the activity its nuclide's own lines give (known:
    the estimates already made from the same regions, reused)."""
    done_k = tuple(k for k in sorted(source_regions) if k in fits)
    if not done_k:
        return (0.0, 1e-3)  # nothing to tie to: the line is left out of the model
    key = (component.nuclide, done_k)
    if known is None or key not in known:
        done = [fits[k] for k in done_k]
        est = estimate_activities(done, [component.nuclide], with_limits=False)
        if known is None:
            known = {}
        known[key] = est.get(component.nuclide)
    est = known[key]
    if est is None:
        return (0.0, 1e-3)
    per_bq = component.counts_per_bq[component.nuclide]
    return (est.activity * per_bq, max(est.counting_unc * per_bq, 1e-3))


def _fit_one(counts: np.ndarray, reg: Region, cfg: AnalysisConfig, free_shift: bool) -> RegionFit:
    """Fixed positions and widths; strong peaks free both (and get a step). free_shift: a
    region with a stable line, whose shift measures the drift, even when weak."""

    data = counts[reg.lo : reg.hi]
    # a handful of counts cannot tell a slope: a flat continuum (it also keeps the
    # likelihood maximum off the mu = 0 boundary that a slope runs into)
    order = 0 if data.sum() < cfg.flat_baseline_counts else reg.baseline_order

    def run(free: bool, width: bool = True, start=None) -> RegionFit:
        return fit_region(
            data,
            reg.lo,
            reg.components,
            baseline_order=order,
            tail_fraction=cfg.tail_fraction,
            tail_length_sigma=cfg.tail_length_sigma,
            free_shape=free,
            free_width=width,
            start=start,
            compton_edges=tuple(reg.compton_edges),
        )

    fit = run(False)
    strong = False
    for i, c in enumerate(reg.components):
        c.strong = (
            c.kind != "tied"
            and fit.area(i) > cfg.strong_peak_counts
            and fit.area(i) > 20 * fit.area_unc(i)
        )
        strong |= c.strong
    if strong:
        return run(True, start=fit.beta)
    # a stable line measures the drift only when it stands out (as fine_gain requires)
    visible = any(
        c.kind in ("nuclide", "xray")
        and fit.area(i) >= cfg.drift_min_counts
        and fit.area(i) >= 5 * fit.area_unc(i)
        for i, c in enumerate(reg.components)
    )
    return run(True, width=False, start=fit.beta) if free_shift and visible else fit


def _normalisations(lib, cfg: AnalysisConfig) -> dict[str, float]:
    """Each nuclide's decay-scheme normalisation u/NR (shared by its gamma lines); none when
    the configuration overrides the gamma intensities' uncertainty."""
    if cfg.intensity_rel_unc_gamma is not None:
        return {}
    return {n: nuc.normalisation_rel_unc for n, nuc in lib.nuclides.items()}


# ----------------------------------------------------------------------- results
def _nuclide_result(
    name: str,
    est: NuclideEstimate,
    fits: list[RegionFit],
    factors: ReleaseFactors | None,
    cfg: AnalysisConfig,
    live: float,
    cont: np.ndarray,
) -> NuclideResult:
    lim = iso11929(est.u0, est.g, est.u_rel_calibration, cfg.k_alpha, cfg.k_beta)
    a = est.activity
    u_eff, u_nuclear = est.efficiency_unc, est.nuclear_unc
    u_total = root_sum_square(
        est.counting_unc, u_eff, u_nuclear, est.disagreement_unc, est.summing_unc
    )
    lc_a, ld_a = _currie_activity(est, fits, cont, cfg.k_alpha)
    f = factors.factor(name) if factors is not None else None
    # the half-life moves the release and concentration factors, not the chamber activity
    u_hl = None if factors is None else abs(a) * factors.half_life_rel.get(name, 0.0)
    u_conv = u_total if factors is None else root_sum_square(u_total, u_hl)

    def rel(x):
        return None if f is None else x * f

    used = {(r, i) for r, i, _ in est.rows}
    lines = []
    for r, fit in enumerate(fits):
        for i, c in enumerate(fit.components):
            per_bq = c.counts_per_bq.get(name, 0.0)
            if per_bq <= 0:
                continue
            intensity = c.intensities[name]
            lines.append(
                LineResult(
                    energy_kev=float(c.energies[c.main]),
                    intensity=intensity,
                    efficiency=per_bq / (live * intensity),
                    net_area=fit.area(i),
                    net_area_unc=fit.area_unc(i),
                    activity_bq=fit.area(i) / per_bq,
                    activity_unc_bq=fit.area_unc(i) / per_bq,
                    used=(r, i) in used,
                )
            )
    conc = None if factors is None else a * factors.concentration_factor(name)
    conc_u = None if factors is None else u_conv * factors.concentration_factor(name)
    return NuclideResult(
        nuclide=name,
        detected=bool(a > lim.decision_threshold),
        activity_bq=a,
        activity_unc_bq=u_total,
        activity_counting_unc_bq=est.counting_unc,
        concentration_bq_m3=conc,
        concentration_unc_bq_m3=conc_u,
        release_bq=rel(a),
        release_unc_bq=rel(u_conv),
        decision_threshold_bq=rel(lim.decision_threshold),
        detection_limit_bq=rel(lim.detection_limit),
        mdr_bq=rel(lim.detection_limit),
        activity_decision_threshold_bq=lim.decision_threshold,
        activity_detection_limit_bq=lim.detection_limit,
        currie_lc_bq=rel(lc_a),
        currie_ld_bq=rel(ld_a),
        lines=lines,
        efficiency_unc_bq=u_eff,
        nuclear_data_unc_bq=u_nuclear,
        disagreement_unc_bq=est.disagreement_unc,
        summing_unc_bq=est.summing_unc,
        half_life_unc_bq=u_hl,
        lines_chi2=est.chi2,
        lines_dof=est.dof,
        birge_ratio=None if est.chi2 is None else float(np.sqrt(est.chi2 / est.dof)),
        lines_consistent=est.consistent,
    )


def _currie_activity(
    est: NuclideEstimate, fits: list[RegionFit], cont: np.ndarray, k: float
) -> tuple[float, float]:
    """Currie L_C and L_D (Bq) from the nuclide's most informative line: the SNIP continuum
    B in a window of +-1.25 FWHM, known from ~20 FWHM of channels (its level correction)."""
    if not est.rows:
        return float("nan"), float("nan")
    r, i, _ = max(
        est.rows,
        key=lambda t: abs(t[2]) * fits[t[0]].components[t[1]].counts_per_bq.get(est.nuclide, 0.0),
    )
    fit = fits[r]
    c = fit.components[i]
    m = c.main
    pos = c.positions[m] + fit.shifts[i]
    fwhm = FWHM_PER_SIGMA * c.sigmas[m] * fit.width_scales[i]
    lo = max(int(np.ceil(pos - 1.25 * fwhm)), 0)
    hi = min(int(np.floor(pos + 1.25 * fwhm)) + 1, cont.size)
    if hi <= lo:
        return float("nan"), float("nan")
    frac = float(np.sum(fit.basis[:, fit.area_index(i)][lo - fit.lo : hi - fit.lo]))
    if not frac > 0:  # the window reaches outside the region
        frac = gaussian_fraction_within(1.25 * FWHM_PER_SIGMA)
    lim = currie(float(cont[lo:hi].sum()), hi - lo, max(int(20 * fwhm), 1), k)
    per_bq = c.counts_per_bq[est.nuclide] * max(frac, 1e-9)
    return lim.decision_threshold / per_bq, lim.detection_limit / per_bq


def _peak_results(fits: list[RegionFit], scale: ChannelScale, first: int) -> list[PeakResult]:
    # every peak's position and width first, so that the calibration is evaluated once
    where = [
        (r, i, j, float(c.positions[j] + fit.shifts[i]), float(c.sigmas[j] * fit.width_scales[i]))
        for r, fit in enumerate(fits)
        for i, c in enumerate(fit.components)
        for j in range(c.energies.size)
    ]
    positions = np.array([w[3] for w in where])
    energies = scale.energy(positions)
    kev_per_channel = scale.kev_per_channel(positions)
    continua = {}  # per region: its fitted continuum and its channels
    out = []
    for k, (r, i, j, pos, sig) in enumerate(where):
        fit = fits[r]
        c = fit.components[i]
        if r not in continua:
            continua[r] = fit.continuum(), fit.lo + np.arange(fit.counts.size)
        cont, ch = continua[r]
        near = np.abs(ch - pos) <= 1.5 * FWHM_PER_SIGMA * sig
        label = c.key.split()[0] if c.kind == "xray" else c.nuclide
        out.append(
            PeakResult(
                energy_kev=float(energies[k]),
                channel=pos + first,
                fwhm_kev=FWHM_PER_SIGMA * sig * float(kev_per_channel[k]),
                net_area=fit.area(i) * float(c.weights[j]),
                net_area_unc=fit.area_unc(i) * float(c.weights[j]),
                continuum=float(np.sum(cont[near])),
                nuclide=label,
                line_kev=None if c.kind == "found" else float(c.energies[j]),
                found=bool(c.found[j]) if c.found is not None else False,
                region=r,
                reduced_chi2=fit.reduced_chi2,
            )
        )
    return out
