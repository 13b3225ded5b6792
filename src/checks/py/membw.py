
import argparse, json, traceback
ap = argparse.ArgumentParser()
ap.add_argument("--gib", type=float, default=2.0)
ap.add_argument("--iters", type=int, default=10)
a = ap.parse_args()
try:
    import torch
    nbytes = int(a.gib * 2**30)
    gpus = []
    for i in range(torch.cuda.device_count()):
        dev = torch.device("cuda", i)
        torch.cuda.set_device(dev)
        src = torch.ones(nbytes, device=dev, dtype=torch.uint8)
        dst = torch.empty_like(src)
        for _ in range(3):
            dst.copy_(src)
        torch.cuda.synchronize(dev)
        rates = []
        for _ in range(5):
            s = torch.cuda.Event(enable_timing=True)
            e = torch.cuda.Event(enable_timing=True)
            s.record()
            for _ in range(a.iters):
                dst.copy_(src)
            e.record()
            e.synchronize()
            rates.append(2.0 * nbytes * a.iters / (s.elapsed_time(e) / 1e3) / 1e9)
        same = bool(torch.equal(dst[-4096:], src[-4096:]))
        rates.sort()
        gpus.append({"index": i, "name": torch.cuda.get_device_name(i), "gbps": rates[len(rates) // 2], "gbps_min": rates[0], "gbps_max": rates[-1], "copy_ok": same})
        del src, dst
        torch.cuda.empty_cache()
    print(json.dumps({"bytes": nbytes, "counted": "read+write", "gpus": gpus}), flush=True)
except Exception as e:
    print(json.dumps({"error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()[-2000:]}), flush=True)
