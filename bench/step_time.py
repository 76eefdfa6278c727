"""Milliseconds per BernoulliVAE training step (batch 128, one thread): plain Adam vs fused Adam; the
share of a fused step spent in matrix products (torch's profiler, 50 steps); and the matrix products'
GFLOP/s for the step's layer shapes (what a step cannot go below).

python bench/step_time.py
"""

import time

import torch

from aelab.models import BernoulliVAE

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
x = (torch.rand(128, 1, 28, 28, generator=torch.Generator().manual_seed(0)) > 0.8).float()
for kwargs in ({}, {"fused": True}):
    torch.manual_seed(0)
    model = BernoulliVAE(max_shift=1).train()
    opt = torch.optim.Adam(model.parameters(), 1e-3, **kwargs)
    for i in range(65):
        if i == 5:
            t0 = time.perf_counter()
        opt.zero_grad()
        model.loss(x)["loss"].backward()
        opt.step()
    print(f"Adam {kwargs or 'plain'}: {(time.perf_counter() - t0) / 60 * 1000:.1f} ms per step")

with torch.profiler.profile() as prof:  # the fused optimiser of the last loop, 50 more steps
    for _ in range(50):
        opt.zero_grad()
        model.loss(x)["loss"].backward()
        opt.step()
self_us = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
matmul = sum(self_us.get(k, 0) for k in ("aten::mm", "aten::addmm"))
print(
    f"matrix products (aten::mm, aten::addmm): {100 * matmul / sum(self_us.values()):.0f} % of a fused step's CPU time"
)

# forward (128 x in) @ (in x out) and the backward's products, for the two big layers
for m, k, n in ((128, 784, 512), (128, 512, 256), (512, 128, 784), (784, 128, 512)):
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(20):
        a @ b
    t0 = time.perf_counter()
    for _ in range(300):
        a @ b
    print(f"matmul ({m} x {k}) @ ({k} x {n}): {2 * m * k * n * 300 / (time.perf_counter() - t0) / 1e9:.0f} GFLOP/s")
