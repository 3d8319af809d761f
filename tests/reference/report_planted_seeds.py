"""Issue 20's detection rate of the nightly report over seeds: for each
seed and each incident spanlens-gen can plant (`--plant NAME`: an error
burst, a spend spike, agent loops, context stuffing, one provider's
latency, a model-mix change, a numeric drift, a prompt version's
regression; each in the last of 8 days, with a known cause), `spanlens
report` on the last day against the 7 before must show the incident's
finding on its first screen (the ranked block), laid at the planted cause
(the finding's `cause` field and value). The calibration test
(tests/integration/calibration.rs) runs one seed.

    python3 tests/reference/report_planted_seeds.py FIRST_SEED N \\
        TARGET/debug/spanlens TARGET/debug/spanlens-gen

Measured (seeds 200-219, 2026-12-05): every incident 20/20.
"""
import json, os, subprocess, sys, tempfile

# (incident, route, how its finding's message reads, cause field, value):
# the generator's PLANTED table (fixtures/generator/gen.rs)
PLANTED = [
    ("error-burst", "/search", ": error_burst (", "model", "gemini-2.5-flash"),
    ("spend-spike", "/refunds", ": spend_spike (", "tenant", "wonka"),
    ("agent-loops", "/agent/plan", ": agent_loop (", "tenant", "tyrell"),
    ("context-stuffing", "/chat", ": context_stuffing (", "tenant", "hooli"),
    ("provider-latency", "/summarize", ": ttft_ms drifted", "provider", "openai"),
    ("model-mix", "/agent/plan", ": model_mix (", "tenant", "acme"),
    ("numeric-drift", "/chat", ": output_tokens drifted", "model", "gpt-4o-mini"),
    ("prompt-regression", "/refunds", ": error_rate regressed", "model", "claude-haiku-4-5"),
]


def on_first_screen(report, route, marker, field, value):
    """The finding, laid at its cause, among the first screen's items."""
    items = report["summary"][0]["items"]
    for f in report["findings"]:
        m = f["message"]
        if not (m.startswith(f"route={route}:") and marker in m):
            continue
        c = f.get("cause") or {}
        if c.get("field") == field and c.get("value") == value:
            if any(i.endswith("] " + m) for i in items):
                return "ok"
            return "found, not on the first screen"
        return f"laid at {c.get('field')} {c.get('value')}"
    return "not found"


def main():
    first, n, spanlens, gen = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    tmp = tempfile.mkdtemp()
    data = os.path.join(tmp, "planted.parquet")
    hits = {p[0]: 0 for p in PLANTED}
    for seed in range(first, first + n):
        for name, route, marker, field, value in PLANTED:
            subprocess.run([gen, "--spans", "80000", "--days", "8", "--seed", str(seed),
                            "--plant", name, "--format", "parquet", "-o", data],
                           check=True, capture_output=True)
            out = subprocess.run([spanlens, "report", data, "--baseline", "2026-01-01..2026-01-08",
                                  "--current", "2026-01-08..2026-01-09", "--format", "json"],
                                 check=True, capture_output=True, text=True)
            verdict = on_first_screen(json.loads(out.stdout), route, marker, field, value)
            hits[name] += verdict == "ok"
            print(seed, name, verdict, flush=True)
    for name, k in hits.items():
        print(f"{name}: {k}/{n}")


main()
