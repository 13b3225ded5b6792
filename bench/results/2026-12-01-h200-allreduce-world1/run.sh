#!/bin/bash
# The nccl.allreduce probe's launch path on 1 GPU (world 1): torchrun --standalone inside a network namespace
# with only lo up, exactly as `smoke --netns` runs it; proves rendezvous, NCCL init, the JSON line.
cd "$(dirname "$0")"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 NCCL_DEBUG=WARN OMP_NUM_THREADS=1
LO="import fcntl,socket,struct; s=socket.socket(); f=struct.unpack('16sh', fcntl.ioctl(s, 0x8913, struct.pack('16sh', b'lo', 0)))[1]; fcntl.ioctl(s, 0x8914, struct.pack('16sh', b'lo', f | 1))"
date -u; nvidia-smi -L; python3 -c 'import torch; print(torch.__version__, torch.cuda.nccl.version())'
s=$(date +%s%N)
unshare -n sh -c "(ip link set lo up || ifconfig lo up || python3 -c \"$LO\") >/dev/null 2>&1; cat /proc/net/dev | tail -n +3 | cut -d: -f1; exec python3 -m torch.distributed.run --standalone --nproc-per-node=1 allreduce.py --sizes 1073741824,2147483648" > $OUT/world1.out 2> $OUT/world1.err
echo "rc=$? ms=$(( ($(date +%s%N)-s)/1000000 ))"; cat $OUT/world1.out; tail -5 $OUT/world1.err
