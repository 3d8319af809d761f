"""End-to-end reference values for `spanlens drift` and `spanlens compare`
on the bundled example export, computed with DuckDB (the data), numpy and
scipy/statsmodels (the statistics); never with spanlens' own code.

    pip install duckdb==2.0.0 numpy scipy statsmodels
    SPANLENS=target/debug/spanlens python3 tests/reference/scipy_drift_compare.py

Writes tests/reference/example_drift_compare.json, read by
tests/integration/drift_compare.rs. The spans are read from the canonical
Parquet that `spanlens ingest` writes (the reader is tested elsewhere).
"""
import json
import math
import os
import subprocess
import tempfile

import duckdb
import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, fisher_exact, mannwhitneyu
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

SPANLENS = os.environ.get("SPANLENS", "target/debug/spanlens")
BASELINE = ("2026-01-01", "2026-01-05")
CURRENT = ("2026-01-05", "2026-01-09")
ARMS = ("refunds@2", "refunds@3")
ZERO_ORDINAL = -1e6


def ordinal(x):
    return math.floor(math.log(x) / math.log(1.02)) if x > 0 else ZERO_ORDINAL


def psi(a, b):
    p = np.asarray(a, float) / sum(a)
    q = np.asarray(b, float) / sum(b)
    p = np.where(p == 0, 1e-4, p)
    q = np.where(q == 0, 1e-4, q)
    return float(np.sum((q - p) * np.log(q / p)))


def drift_stats(nb, nc):
    t = np.array([nb, nc], float)
    t = t[:, t.sum(axis=0) > 0]
    p = float(chi2_contingency(t, correction=False)[1])
    js = float(jensenshannon(np.asarray(nb, float), np.asarray(nc, float), base=2))
    return {"n_baseline": int(sum(nb)), "n_current": int(sum(nc)), "psi": psi(nb, nc),
            "js_distance": js, "chi2_p": p}


def numeric_drift(base, cur):
    bb = np.array([ordinal(x) for x in base], float)
    cb = np.array([ordinal(x) for x in cur], float)
    edges = np.unique(np.quantile(bb, np.arange(1, 10) / 10))
    nb = np.bincount(np.searchsorted(edges, bb, side="left"), minlength=len(edges) + 1)
    nc = np.bincount(np.searchsorted(edges, cb, side="left"), minlength=len(edges) + 1)
    return drift_stats(nb.tolist(), nc.tolist())


def categorical_drift(base, cur):
    # top 20 by baseline count then name, the rest pooled, new categories last
    cb = {}
    for v in base:
        cb[v] = cb.get(v, 0) + 1
    cc = {}
    for v in cur:
        cc[v] = cc.get(v, 0) + 1
    ranked = sorted(cb.items(), key=lambda kv: (-kv[1], kv[0]))
    top = [k for k, _ in ranked[:20]]
    pooled = len(ranked) > 20
    labels = top + (["__other__"] if pooled else [])
    nb = [cb.get(k, 0) for k in top] + ([sum(n for k, n in ranked[20:])] if pooled else [])
    nc = [cc.get(k, 0) for k in top] + ([sum(n for k, n in cc.items() if k in cb and k not in top)] if pooled else [])
    new = sorted(((k, n) for k, n in cc.items() if k not in cb), key=lambda kv: (-kv[1], kv[0]))
    for k, n in new:
        labels.append(k)
        nb.append(0)
        nc.append(n)
    return drift_stats(nb, nc)


with tempfile.TemporaryDirectory() as d:
    spans = os.path.join(d, "spans.parquet")
    subprocess.run([SPANLENS, "--config", "fixtures/example/spanlens.toml", "--quiet", "ingest",
                    "fixtures/example/export.otlp.jsonl.gz", "-o", spans], check=True)
    evals = os.path.join(d, "spans.evals.parquet")
    con = duckdb.connect()

    def window(w):
        return (f"start_ns >= epoch_ns(TIMESTAMP '{w[0]}') AND start_ns < epoch_ns(TIMESTAMP '{w[1]}')"
                f" AND span_type = 'llm' AND route = '/chat'")

    def col(expr, w, notnull=True):
        q = f"SELECT {expr} FROM read_parquet('{spans}') WHERE {window(w)}"
        if notnull:
            q += f" AND {expr} IS NOT NULL"
        return [r[0] for r in con.execute(q).fetchall()]

    drift = {}
    for f in ["input_tokens", "output_tokens", "duration_ms", "ttft_ms"]:
        drift[f] = numeric_drift(col(f, BASELINE), col(f, CURRENT))
    for f, expr in [("model", "coalesce(request_model, response_model)"),
                    ("finish_reason", "finish_reason"), ("error_type", "error_type")]:
        b = [v if v is not None else "(none)" for v in col(expr, BASELINE, False)]
        c = [v if v is not None else "(none)" for v in col(expr, CURRENT, False)]
        drift[f] = categorical_drift(b, c)

    # compare: every span of each prompt version (all time), LLM spans
    def arm(v):
        return f"span_type = 'llm' AND prompt_version = '{v}'"

    def counts(v):
        return con.execute(f"""SELECT count(*), sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END)
            FROM read_parquet('{spans}') WHERE {arm(v)}""").fetchone()

    (nb, kb), (nc, kc) = counts(ARMS[0]), counts(ARMS[1])
    expected_min = min(r * e / (nb + nc) for r in (nb, nc) for e in (kb + kc, nb + nc - kb - kc))
    if expected_min < 5:
        p_err = fisher_exact([[kc, nc - kc], [kb, nb - kb]], alternative="greater")[1]
        test = "fisher"
    else:
        p_err = proportions_ztest([kc, kb], [nc, nb], alternative="larger")[1]
        test = "z-test"
    lo, hi = confint_proportions_2indep(kc, nc, kb, nb, method="newcomb", compare="diff")
    compare = {"error_rate": {"n_baseline": nb, "n_candidate": nc, "baseline": kb / nb,
                              "candidate": kc / nc, "p": float(p_err), "test": test,
                              "ci_low": float(lo), "ci_high": float(hi)}}
    for name, expr, stat in [("latency_p50", "duration_ms", "p50"), ("input_tokens", "input_tokens", "mean")]:
        x = [r[0] for r in con.execute(f"SELECT {expr} FROM read_parquet('{spans}') WHERE {arm(ARMS[1])} AND {expr} IS NOT NULL").fetchall()]
        y = [r[0] for r in con.execute(f"SELECT {expr} FROM read_parquet('{spans}') WHERE {arm(ARMS[0])} AND {expr} IS NOT NULL").fetchall()]
        f = (lambda v: float(np.quantile(v, 0.5))) if stat == "p50" else (lambda v: float(np.mean(v)))
        r = mannwhitneyu(x, y, alternative="greater", method="asymptotic", use_continuity=True)
        compare[name] = {"n_baseline": len(y), "n_candidate": len(x), "baseline": f(y),
                         "candidate": f(x), "p": float(r.pvalue)}

out = {"source": "tests/reference/scipy_drift_compare.py", "baseline": "..".join(BASELINE),
       "current": "..".join(CURRENT), "arms": list(ARMS), "drift_chat": drift, "compare": compare}
with open("tests/reference/example_drift_compare.json", "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote tests/reference/example_drift_compare.json")
