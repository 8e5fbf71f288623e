"""`stax analyze FILE... [--method station|central|both] [--json]`: analyse spectra.

By default a table per file: per nuclide whether it is detected, activity and release
with their standard uncertainties, decision threshold, MDR and the lines used. With
`--method both` the station and central methods side by side, with z and flags
(central/compare.py). With `--json` one JSON object per file and line. A file that
cannot be analysed gives one line on stderr; the others go on; the exit code is 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import sys
from typing import Any

from shared.formats import FormatError, read_file
from shared.results import AnalysisError, AnalysisResult
from stax.cli import UsageError

log = logging.getLogger("stax.analyze")

METHOD_MODULES = {"station": "edge_agent.analysis", "central": "central.reanalysis"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="PHD files (SAMPLEPHD)")
    parser.add_argument(
        "--method",
        choices=("station", "central", "both"),
        default="central",
        help="the station method, the central re-analysis (default), or both compared",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per file and line instead of tables"
    )


def analysis_function(method: str):
    """The `analyze` of a method, imported only when asked for."""
    module = METHOD_MODULES[method]
    try:
        return importlib.import_module(module).analyze
    except (ImportError, AttributeError) as exc:
        raise UsageError(
            f"the {method} method is not available in this installation ({module}: {exc})"
        ) from None


def run(args: argparse.Namespace) -> int:
    methods = ("station", "central") if args.method == "both" else (args.method,)
    functions = {m: analysis_function(m) for m in methods}
    failed = 0
    for path in args.files:
        results, ok = _analyze_file(path, functions)
        failed += not ok
        if not results:
            continue
        if args.method == "both":
            _emit_both(path, results.get("station"), results.get("central"), args.json)
        else:
            _emit_one(path, results[args.method], args.json)
    return 1 if failed else 0


def _analyze_file(path: str, functions) -> tuple[dict[str, AnalysisResult], bool]:
    """Results per method; errors are printed as one line each."""
    try:
        message = read_file(path)
    except FormatError as exc:
        first = exc.problems[0] if exc.problems else exc
        more = f" (and {len(exc.problems) - 1} more problems)" if len(exc.problems) > 1 else ""
        _error(f"{first}{more}")
        return {}, False
    phd = message.phd
    if phd is None:
        _error(f"{path}: no PHD section (data types: {', '.join(message.data_types) or 'none'})")
        return {}, False
    results: dict[str, AnalysisResult] = {}
    ok = True
    for method, fn in functions.items():
        try:
            results[method] = fn(phd, source=path)
        except AnalysisError as exc:
            ok = False
            _error(f"{path}: {method} analysis: {_without_path(path, str(exc))}")
        except Exception as exc:  # a method's bug must not stop the other files
            ok = False
            log.debug("%s: %s analysis failed", path, method, exc_info=True)
            _error(f"{path}: {method} analysis failed: {type(exc).__name__}: {exc}")
    return results, ok


def _without_path(path: str, text: str) -> str:
    # the methods usually name the source themselves: do not say it twice
    return text.removeprefix(f"{path}: ")


def _error(text: str) -> None:
    print(text.splitlines()[0] if text else "error", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- JSON
def _finite(value: Any) -> Any:
    """JSON has no infinities or NaN: they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _print_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(_finite(obj), separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _emit_one(path: str, result: AnalysisResult, as_json: bool) -> None:
    if as_json:
        _print_json({"file": path, **result.to_json()})
    else:
        print(_table(path, result))


def _emit_both(path, station, central, as_json: bool) -> None:
    from central.compare import compare

    comparisons = compare(station, central) if station and central else []
    if as_json:
        _print_json(
            {
                "file": path,
                "station": station.to_json() if station else None,
                "central": central.to_json() if central else None,
                "comparison": [c.to_json() for c in comparisons],
            }
        )
        return
    if not (station and central):
        only = station or central
        print(_table(path, only))
        return
    print(_header(path, central))
    print(
        f"  {'method':8s} {station.method_version} ({1e3 * station.elapsed_s:.0f} ms) "
        f"| {central.method_version} ({1e3 * central.elapsed_s:.0f} ms)"
    )
    q = comparisons[0].quantity if comparisons else "release"
    unit = "Bq/interval" if q == "release" else "Bq in chamber"
    print(
        f"  {'nuclide':9s} {'station ' + q + ' (' + unit + ')':>32s} "
        f"{'central ' + q + ' (' + unit + ')':>32s} {'z':>7s}  flag  reason"
    )
    for c in comparisons:
        print(
            f"  {c.nuclide:9s} {_cell(c.station_detected, c.station_value, c.station_unc, c.station_limit):>32s} "
            f"{_cell(c.central_detected, c.central_value, c.central_unc, c.central_limit):>32s} "
            f"{_num(c.z, '+7.2f'):>7s}  {'FLAG' if c.flagged else '    '}  {c.reason}"
        )
    print()


# -------------------------------------------------------------------- tables
def _g(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:.3g}"


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, fmt)


def _cell(detected, value, unc, limit) -> str:
    if detected is None:
        return "not reported"
    if detected:
        return f"{_g(value)} ± {_g(unc)}"
    return f"< {_g(limit)} ({_g(value)})"


def _header(path: str, r: AnalysisResult) -> str:
    return (
        f"{path}: {r.station} {r.detector} SRID {r.srid} acquisition {r.acquisition_start}, "
        f"live {r.live_time_s:g} s, interval {r.interval_s:g} s"
    )


def _table(path: str, r: AnalysisResult) -> str:
    out = [
        _header(path, r),
        f"  {r.method} method {r.method_version}, {1e3 * r.elapsed_s:.0f} ms, "
        f"gain correction {r.gain_correction:.5f}",
    ]
    out.append(
        f"  {'nuclide':9s} {'det':3s} {'activity (Bq)':>21s} {'release (Bq)':>21s} "
        f"{'DT (Bq)':>9s} {'MDR (Bq)':>9s}  lines (keV)"
    )
    for name, n in r.nuclides.items():
        lines = " ".join(f"{ln.energy_kev:.1f}" for ln in n.lines if ln.used)
        activity = f"{_g(n.activity_bq)} ± {_g(n.activity_unc_bq)}"
        release = "-" if n.release_bq is None else f"{_g(n.release_bq)} ± {_g(n.release_unc_bq)}"
        out.append(
            f"  {name:9s} {'yes' if n.detected else 'no':3s} {activity:>21s} {release:>21s} "
            f"{_g(n.decision_threshold_bq):>9s} {_g(n.mdr_bq):>9s}  {lines}"
        )
    if r.nuclides and all(n.release_bq is None for n in r.nuclides.values()):
        out.append("  (no #Stack data: no concentration, release or MDR)")
    for w in r.warnings:
        out.append(f"  warning: {w}")
    return "\n".join(out) + "\n"
