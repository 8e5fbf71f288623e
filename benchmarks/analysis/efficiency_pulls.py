"""Is the efficiency curve's stated uncertainty right? Noisy calibrations of known curves.

    python benchmarks/analysis/efficiency_pulls.py [--n 2000] [--seed 1]

Each calibration: the default detector times the mismatch suite's absorber
exp(-tau (E/30 keV)^-2.8), tau uniform in 0-0.6, its `#g_Efficiency` points drawn with
their stated 3 % (spectra.py's MISMATCH), fitted by `shared.calibration.fit_efficiency`.
Printed per energy of the lines that quantify nuclides: the pull (ln eps_fit - ln eps_true)
/ u(ln eps) with u from `ln_covariance`, its mean and SD (1 when the stated uncertainty is
right), and the median stated u.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared.calibration import fit_efficiency
from shared.simulation.detector import default_detector, efficiency_points

ENERGIES = (31.0, 81.0, 151.195, 163.93, 196.3, 233.2, 249.8, 304.87, 364.5, 526.6, 834.8, 2392.1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    base = default_detector()
    e = np.array(ENERGIES)
    pulls, us, models = [], [], {}
    for _ in range(args.n):
        det = replace(base, efficiency_absorber_tau=float(rng.uniform(0.0, 0.6)))
        curve = fit_efficiency(efficiency_points(det, 0.03, rng)).curve
        models[curve.model] = models.get(curve.model, 0) + 1
        u = np.sqrt(np.diag(curve.ln_covariance(e)))
        pulls.append((np.log(curve.efficiency(e)) - np.log(det.efficiency(e))) / u)
        us.append(u)
    p, u = np.array(pulls), np.array(us)
    print(f"{args.n} calibrations; curves: {models}")
    print("  keV    pull mean  pull SD  median u")
    for k, energy in enumerate(ENERGIES):
        print(
            f"{energy:7.1f}  {p[:, k].mean():+8.2f}  {p[:, k].std(ddof=1):7.2f}"
            f"  {100 * np.median(u[:, k]):6.2f} %"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
