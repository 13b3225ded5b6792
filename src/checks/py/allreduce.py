
import argparse, datetime, json, os, traceback
ap = argparse.ArgumentParser()
ap.add_argument("--sizes", default="1073741824,2147483648")
ap.add_argument("--iters", type=int, default=20)
ap.add_argument("--warmup", type=int, default=5)
ap.add_argument("--timeout", type=int, default=120)
a = ap.parse_args()
rank = int(os.environ.get("RANK", "0"))
try:
    import torch
    import torch.distributed as dist
    local = int(os.environ["LOCAL_RANK"])
    world = int(os.environ["WORLD_SIZE"])
    dev = torch.device("cuda", local)
    torch.cuda.set_device(dev)
    to = datetime.timedelta(seconds=a.timeout)
    try:
        dist.init_process_group("nccl", timeout=to, device_id=dev)
    except TypeError:
        dist.init_process_group("nccl", timeout=to)
    rows = []
    for size in [int(s) for s in a.sizes.split(",") if s]:
        n = size // 4
        x = torch.full((n,), float(rank + 1), device=dev, dtype=torch.float32)
        dist.all_reduce(x)
        torch.cuda.synchronize(dev)
        expect = world * (world + 1) / 2.0
        wrong = torch.tensor([int((x != expect).sum().item())], device=dev, dtype=torch.int64)
        dist.all_reduce(wrong)
        for _ in range(a.warmup):
            dist.all_reduce(x)
        torch.cuda.synchronize(dev)
        dist.barrier()
        s = torch.cuda.Event(enable_timing=True)
        e = torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(a.iters):
            dist.all_reduce(x)
        e.record()
        e.synchronize()
        sec = torch.tensor([s.elapsed_time(e) / 1e3 / a.iters], device=dev, dtype=torch.float64)
        dist.all_reduce(sec, op=dist.ReduceOp.MAX)
        t = float(sec.item())
        algbw = size / 1e9 / t
        rows.append({"bytes": size, "time_us": t * 1e6, "algbw_gbps": algbw, "busbw_gbps": algbw * 2 * (world - 1) / world, "wrong": int(wrong.item())})
        del x
        torch.cuda.empty_cache()
    if rank == 0:
        print(json.dumps({"world": world, "nccl": ".".join(str(v) for v in torch.cuda.nccl.version()), "sizes": rows}), flush=True)
    dist.destroy_process_group()
except Exception as e:
    if rank == 0:
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()[-2000:]}), flush=True)
    raise
