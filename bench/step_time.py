"""Milliseconds per BernoulliVAE training step (batch 128, one thread): plain Adam vs fused Adam.

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
