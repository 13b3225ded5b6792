
import argparse, json, os, shutil, signal, socket, subprocess, sys, time, traceback, urllib.request
ap = argparse.ArgumentParser()
ap.add_argument("--mode", default="offline")
ap.add_argument("--model", required=True)
ap.add_argument("--tokens", type=int, default=16)
ap.add_argument("--timeout", type=int, default=600)
ap.add_argument("--mem", type=float, default=0.5)
ap.add_argument("--log", default="vllm-serve.log")
a = ap.parse_args()
try:
    import vllm
except Exception as e:
    print(json.dumps({"skip": "vLLM not installed", "import_error": "%s: %s" % (type(e).__name__, e)}), flush=True)
    sys.exit(0)

def first_error(text):
    for line in text.splitlines():
        s = line.strip()
        if ("Error:" in s or "Exception:" in s) and not s.startswith("File "):
            return s[:400]
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1][:400] if lines else ""

def offline():
    from vllm import LLM, SamplingParams
    t0 = time.time()
    llm = LLM(model=a.model, gpu_memory_utilization=a.mem, enforce_eager=True)
    load = time.time() - t0
    sp = SamplingParams(temperature=0, max_tokens=a.tokens, ignore_eos=True)
    o1 = llm.generate(["Hello, my name is"], sp)[0].outputs[0]
    o2 = llm.generate(["Hello, my name is"], sp)[0].outputs[0]
    prompts = ["Prompt number %d:" % i for i in range(64)]
    t1 = time.time()
    outs = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=64, ignore_eos=True))
    dt = time.time() - t1
    gen = sum(len(o.outputs[0].token_ids) for o in outs)
    return {"mode": "offline", "vllm": vllm.__version__, "load_sec": load, "tokens": len(o1.token_ids), "asked": a.tokens,
            "deterministic": list(o1.token_ids) == list(o2.token_ids), "text": o1.text[:200],
            "batch_prompts": len(prompts), "batch_tokens": gen, "batch_sec": dt, "tok_s": gen / dt if dt > 0 else 0.0}

def get(url, data=None, timeout=10):
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None,
                                 headers={"Content-Type": "application/json"} if data is not None else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8", "replace")

def serve():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    exe = shutil.which("vllm") or os.path.join(os.path.dirname(sys.executable), "vllm")
    cmd = [exe, "serve", a.model] if os.path.exists(exe) else [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", a.model]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--gpu-memory-utilization", str(a.mem), "--enforce-eager"]
    log = open(a.log, "w")
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = "http://127.0.0.1:%d" % port
    res = {"mode": "serve", "vllm": vllm.__version__, "command": " ".join(cmd)}
    try:
        ready = False
        while time.time() - t0 < a.timeout:
            if p.poll() is not None:
                break
            try:
                if get(base + "/health", timeout=2)[0] == 200:
                    ready = True
                    break
            except Exception:
                pass
            time.sleep(1)
        res["ready_sec"] = time.time() - t0
        if not ready:
            log.flush()
            text = open(a.log).read()
            why = "exited with %s" % p.returncode if p.poll() is not None else "not ready after %d s" % a.timeout
            res["error"] = "vllm serve %s: %s" % (why, first_error(text))
            res["log_tail"] = text[-3000:]
            return res
        st, body = get(base + "/v1/models")
        ids = [m["id"] for m in json.loads(body).get("data", [])]
        res["models"] = ids
        t1 = time.time()
        st, body = get(base + "/v1/completions", {"model": ids[0] if ids else a.model, "prompt": "Hello, my name is", "max_tokens": a.tokens, "temperature": 0, "ignore_eos": True}, timeout=120)
        res["completion_sec"] = time.time() - t1
        j = json.loads(body)
        res["status"] = st
        res["text"] = j["choices"][0]["text"][:200]
        res["completion_tokens"] = j.get("usage", {}).get("completion_tokens")
        return res
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(30)
            except Exception:
                os.killpg(p.pid, signal.SIGKILL)
        res["exit"] = p.returncode
        log.close()

try:
    print(json.dumps(offline() if a.mode == "offline" else serve()), flush=True)
except Exception as e:
    print(json.dumps({"error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()[-2000:]}), flush=True)
