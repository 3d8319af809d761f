"""Issue 20's detection rate over seeds: an error burst of one model on
/chat and a spend spike of one new tenant on /summarize, planted into
spanlens-gen traffic (80,000 spans, 8 days) for each seed, found by
`spanlens anomalies --by route` and laid at that model and that tenant.
The calibration test (tests/integration/calibration.rs) runs one seed.

    python3 tests/reference/anomaly_planted_seeds.py N \
        TARGET/debug/spanlens TARGET/debug/spanlens-gen

Measured (seeds 100-119): burst 20/20, spike 20/20.
"""
import json, os, subprocess, sys, tempfile
T0=1767225600000000000; H=3600*10**9; D=24*H; d8=T0+7*D
def call(w, i, start, route, tenant, model, tok, err):
    trace="ee%030x"%i; root="ee%014x"%i; end=start+2*10**9
    st={"code":"ERROR","message":"429"} if err else {"code":"UNSET"}
    w.write(json.dumps({"trace_id":trace,"span_id":root,"parent_span_id":None,"kind":2,"name":"POST "+route,"start_time_unix_nano":start,"end_time_unix_nano":end,"status":st,"attributes":{"http.route":route,"tenant.id":tenant},"resource":{"service.name":"chat-api"}})+"\n")
    w.write(json.dumps({"trace_id":trace,"span_id":"ef%014x"%i,"parent_span_id":root,"kind":3,"name":"chat "+model,"start_time_unix_nano":start+1000,"end_time_unix_nano":end-1000,"status":st,"attributes":{"gen_ai.operation.name":"chat","gen_ai.provider.name":"gcp.gemini" if model.startswith("gemini") else "openai","gen_ai.request.model":("gpt-4o-mini" if model.startswith("gpt-4o-mini") else model),"gen_ai.response.model":model,"gen_ai.usage.input_tokens":tok,"gen_ai.usage.output_tokens":300,"error.type":"429" if err else None},"resource":{"service.name":"chat-api"}})+"\n")
ok_b=ok_s=0; n=int(sys.argv[1])
SPANLENS, GEN = sys.argv[2], sys.argv[3]
tmp = tempfile.mkdtemp()
BASE, PLANTED = os.path.join(tmp, "base.parquet"), os.path.join(tmp, "planted.jsonl")
for seed in range(100, 100+n):
    subprocess.run([GEN,"--spans","80000","--days","8","--seed",str(seed),"--format","parquet","-o",BASE],check=True,capture_output=True)
    i=0
    with open(PLANTED,"w") as w:
        for k in range(12):
            i+=1; call(w,i,d8+14*H+k*240*10**9,"/chat","acme","gemini-2.5-flash",800,True)
        for k in range(400):
            i+=1; call(w,i,d8+k*(D//400)+7*10**9,"/summarize","t17","gpt-4o-mini-2024-07-18",100000,False)
    out=subprocess.run([SPANLENS,"anomalies",BASE,PLANTED,"--by","route","--baseline","2026-01-01..2026-01-08","--current","2026-01-08..2026-01-09","--format","json"],capture_output=True,text=True)
    rows=json.loads(out.stdout)["tables"]["anomalies"]
    b=[r for r in rows if r["route"]=="/chat" and r["kind"]=="error_burst" and r["cause_value"]=="gemini-2.5-flash"]
    s=[r for r in rows if r["route"]=="/summarize" and r["kind"]=="spend_spike" and r["cause_value"]=="t17"]
    ok_b+=bool(b); ok_s+=bool(s)
    others=[(r["route"],r["kind"]) for r in rows if not (r in b or r in s)]
    print(seed, bool(b), bool(s), others, flush=True)
print("burst found+attributed", ok_b, "/", n, "; spike", ok_s, "/", n)
