"""Build spanlens' embedded price table from LiteLLM's
model_prices_and_context_window_backup.json (inside the `litellm` wheel on
PyPI): the chat, completion, responses and embedding entries that have token
prices, with only the fields spanlens' cost reads (base, cache read and
write, 1-hour cache write, reasoning, long-context tiers, and the priority,
flex and batch service tiers).

    pip download --no-deps litellm==1.110.2 -d /tmp/litellm
    unzip -o /tmp/litellm/litellm-1.110.2-*.whl \
        litellm/model_prices_and_context_window_backup.json -d /tmp/litellm
    python3 src/pricing/build_table.py \
        /tmp/litellm/litellm/model_prices_and_context_window_backup.json \
        > src/pricing/litellm-1.110.2.json
"""
import json, re, sys

MODES = {"chat", "completion", "responses", "embedding"}
RATES = ["input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost",
         "cache_creation_input_token_cost", "cache_creation_input_token_cost_above_1hr",
         "output_cost_per_reasoning_token"]
# a rate above a prompt size, on a service tier, or both
TIER = re.compile(r"^(%s)(_above_\d+k_tokens)?(_priority|_flex|_batches)?$" % "|".join(RATES))

src = json.load(open(sys.argv[1]))
out = {}
for key, v in src.items():
    if key == "sample_spec" or not isinstance(v, dict) or v.get("mode") not in MODES:
        continue
    if "input_cost_per_token" not in v and "tiered_pricing" not in v:
        continue
    e = {k: v[k] for k in v if k in RATES or TIER.match(k)}
    # an embedding produces no output tokens: its missing output price is 0
    # (spanlens refuses an input price without an output price)
    if v.get("mode") == "embedding" and "output_cost_per_token" not in e and "input_cost_per_token" in e:
        e["output_cost_per_token"] = 0.0
    if "litellm_provider" in v:
        e["litellm_provider"] = v["litellm_provider"]
    if "tiered_pricing" in v:
        e["tiered_pricing"] = [{k: t[k] for k in t if k == "range" or k in RATES}
                               for t in v["tiered_pricing"]]
    out[key] = e
json.dump(out, sys.stdout, indent=0, sort_keys=True)
sys.stdout.write("\n")
print(len(out), file=sys.stderr)
