
import argparse, json, traceback
ap = argparse.ArgumentParser()
ap.add_argument("--gib", type=float, default=1.0)
ap.add_argument("--iters", type=int, default=4)
a = ap.parse_args()
try:
    import torch
    nbytes = int(a.gib * 2**30)
    host = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)
    host.fill_(7)
    back = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)
    gpus = []
    for i in range(torch.cuda.device_count()):
        dev = torch.device("cuda", i)
        torch.cuda.set_device(dev)
        d = torch.empty(nbytes, device=dev, dtype=torch.uint8)
        def timed(fn):
            rates = []
            for _ in range(5):
                s = torch.cuda.Event(enable_timing=True)
                e = torch.cuda.Event(enable_timing=True)
                s.record()
                for _ in range(a.iters):
                    fn()
                e.record()
                e.synchronize()
                rates.append(nbytes * a.iters / (s.elapsed_time(e) / 1e3) / 1e9)
            rates.sort()
            return rates
        h2d = lambda: d.copy_(host, non_blocking=True)
        d2h = lambda: back.copy_(d, non_blocking=True)
        h2d(); d2h(); torch.cuda.synchronize(dev)
        up = timed(h2d)
        down = timed(d2h)
        torch.cuda.synchronize(dev)
        ok = bool(back[:4096].eq(7).all().item()) and bool(back[-4096:].eq(7).all().item())
        gpus.append({"index": i, "name": torch.cuda.get_device_name(i), "h2d_gbps": up[2], "d2h_gbps": down[2], "h2d_gbps_min": up[0], "d2h_gbps_min": down[0], "copy_ok": ok})
        del d
        torch.cuda.empty_cache()
    print(json.dumps({"bytes": nbytes, "pinned": True, "gpus": gpus}), flush=True)
except Exception as e:
    print(json.dumps({"error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()[-2000:]}), flush=True)
