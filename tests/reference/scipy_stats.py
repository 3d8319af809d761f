"""Reference values for the drift and comparison kernels (src/stats/).

Every number here comes from scipy / statsmodels / numpy, never from
spanlens. Run from the repository root to regenerate
tests/reference/stats_kernels.json (read by the unit tests):

    pip install numpy==2.* scipy statsmodels
    python3 tests/reference/scipy_stats.py

Conventions (docs/statistics.md):
* PSI: sum (q - p) ln(q / p) over bin shares, zero shares replaced by 1e-4
  (Evidently's `sub_psi`);
* JS: scipy.spatial.distance.jensenshannon(p, q, base=2);
* chi-squared: scipy.stats.chi2_contingency(correction=False) on the 2 x B
  count table with empty bins dropped;
* rates: statsmodels proportions_ztest(alternative="larger") (pooled),
  scipy.stats.fisher_exact(alternative="greater"), statsmodels
  confint_proportions_2indep(method="newcomb", compare="diff");
* Mann-Whitney: scipy.stats.mannwhitneyu(x, y, alternative="greater",
  method="asymptotic", use_continuity=True) (tie-corrected);
* Holm: statsmodels multipletests(method="holm");
* anomalies: robust z = 0.6745 (x - median) / MAD with
  scipy.stats.median_abs_deviation(scale=1.0); MAD = 0: (x - median) /
  (1.253314 mean |x - median|); binomial tail P(X >= k) =
  scipy.stats.binom.sf(k - 1, n, p); total variation 0.5 sum |p - q|;
* numeric drift bins: deciles (numpy type 7) of the baseline's log-bucket
  ordinals, duplicate edges removed, right-closed bins
  (numpy searchsorted side="left").
"""
import json
import math

import numpy as np
import scipy
import statsmodels
from scipy.spatial.distance import jensenshannon
from scipy.stats import binom, chi2_contingency, fisher_exact, mannwhitneyu, median_abs_deviation
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

ZERO_ORDINAL = -1e6


def psi(a, b):
    p = np.asarray(a, float) / sum(a)
    q = np.asarray(b, float) / sum(b)
    p = np.where(p == 0, 1e-4, p)
    q = np.where(q == 0, 1e-4, q)
    return float(np.sum((q - p) * np.log(q / p)))


def chi2(a, b):
    t = np.array([a, b], float)
    t = t[:, t.sum(axis=0) > 0]
    stat, p, dof, _ = chi2_contingency(t, correction=False)
    return float(stat), int(dof), float(p)


drift = []
for a, b in [
    ([50, 30, 20], [45, 35, 20]),
    ([100, 100, 100, 100], [130, 90, 100, 80]),
    ([500, 300, 0, 200], [100, 300, 250, 350]),
    ([10, 0, 5, 7, 0], [3, 4, 0, 9, 0]),
    ([1000, 1, 2000, 3], [990, 0, 2100, 12]),
    ([4000, 3000, 2000, 1000, 500], [4100, 2950, 1980, 1060, 480]),
]:
    s, dof, p = chi2(a, b)
    js = jensenshannon(np.asarray(a, float), np.asarray(b, float), base=2)
    drift.append({"base": a, "cur": b, "psi": psi(a, b), "js": float(js),
                  "chi2": s, "df": dof, "p": p})

rates = []
for k1, n1, k2, n2 in [
    (30, 200, 20, 200),
    (120, 1000, 95, 1000),
    (5, 40, 1, 45),
    (2, 300, 0, 280),
    (480, 600, 470, 600),
    (7, 31, 9, 33),
]:
    z, pz = proportions_ztest([k1, k2], [n1, n2], alternative="larger")
    _, pf = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="greater")
    lo, hi = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
    rates.append({"k1": k1, "n1": n1, "k2": k2, "n2": n2, "z": float(z), "p_z": float(pz),
                  "p_fisher": float(pf), "newcombe": [float(lo), float(hi)]})

rng = np.random.default_rng(20261124)
mwu = []
for n1, n2, shift, rounding in [(30, 40, 0.3, 1), (200, 150, 0.0, 0), (500, 800, 0.05, 2), (12, 9, 1.0, 0)]:
    x = np.round(rng.lognormal(5 + shift, 0.6, n1), rounding)
    y = np.round(rng.lognormal(5, 0.6, n2), rounding)
    r = mannwhitneyu(x, y, alternative="greater", method="asymptotic", use_continuity=True)
    vx, cx = np.unique(x, return_counts=True)
    vy, cy = np.unique(y, return_counts=True)
    mwu.append({"x": [[float(v), int(c)] for v, c in zip(vx, cx)],
                "y": [[float(v), int(c)] for v, c in zip(vy, cy)],
                "u": float(r.statistic), "p": float(r.pvalue)})

holm = []
for ps in [[0.01, 0.04, 0.03, 0.005], [0.2, 0.001, 0.5, 0.049, 0.02, 0.9]]:
    holm.append({"p": ps, "adj": [float(v) for v in multipletests(ps, method="holm")[1]]})


def ordinal(x):
    return math.floor(math.log(x) / math.log(1.02)) if x > 0 else ZERO_ORDINAL


bins = []
for seed, zeros in [(1, 0), (2, 25), (3, 0)]:
    r = np.random.default_rng(seed)
    base = np.round(r.lognormal(6, 1.0, 1000)).tolist() + [0.0] * zeros
    cur = np.round(r.lognormal(6.2, 1.1, 700)).tolist() + [0.0] * (zeros // 2)
    bb = np.array([ordinal(x) for x in base], float)
    cb = np.array([ordinal(x) for x in cur], float)
    edges = np.unique(np.quantile(bb, np.arange(1, 10) / 10))
    nb = np.bincount(np.searchsorted(edges, bb, side="left"), minlength=len(edges) + 1)
    nc = np.bincount(np.searchsorted(edges, cb, side="left"), minlength=len(edges) + 1)
    hist = lambda o: [[int(v) if v != ZERO_ORDINAL else None, int(c)]
                      for v, c in zip(*np.unique(o, return_counts=True))]
    bins.append({"base": hist(bb), "cur": hist(cb), "edges": edges.tolist(),
                 "n_base": nb.tolist(), "n_cur": nc.tolist(), "psi": psi(nb, nc),
                 "js": float(jensenshannon(nb.astype(float), nc.astype(float), base=2)),
                 "p": chi2(nb.tolist(), nc.tolist())[2]})

robust = []
for xs in [[1.0, 2.0, 2.0, 3.0, 4.0, 100.0], [5.0, 5.0, 5.0, 5.0, 9.0, 1.0], [0.5, 0.7, 0.2, 0.9, 12.0, 0.4, 0.6]]:
    a = np.asarray(xs)
    med = float(np.median(a))
    mad = float(median_abs_deviation(a, scale=1.0))
    if mad > 0:
        z = (0.6745 * (a - med) / mad).tolist()
    else:
        z = ((a - med) / (1.253314 * np.mean(np.abs(a - med)))).tolist()
    robust.append({"x": xs, "median": med, "mad": mad, "z": z})
tails = []
for k, n, p in [(5, 40, 0.02), (30, 200, 0.05), (1, 10, 0.3), (120, 1000, 0.1), (0, 5, 0.5)]:
    tails.append({"k": k, "n": n, "p": p, "sf": float(binom.sf(k - 1, n, p))})

out = {"versions": {"numpy": np.__version__, "scipy": scipy.__version__,
                    "statsmodels": statsmodels.__version__},
       "drift": drift, "rates": rates, "mwu": mwu, "holm": holm, "bins": bins,
       "robust": robust, "binomial_tail": tails}
with open("tests/reference/stats_kernels.json", "w") as f:
    json.dump(out, f, separators=(",", ":"))
    f.write("\n")
print("wrote tests/reference/stats_kernels.json")
