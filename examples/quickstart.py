"""The README quickstart: wrap a network, check the zero-init identity, train briefly, sample."""

import torch
from torch import nn

from probdeg import Probabilistic

torch.manual_seed(0)
# Any HR -> LR network; here a small one with a stride-2 tail.
net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.PReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.PReLU(),
                    nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.PReLU(), nn.Conv2d(32, 3, 3, padding=1))
hr = torch.rand(4, 3, 64, 64)
deterministic_lr = net(hr)

G = Probabilistic(net, sigma="conditional")  # automatic injection points
print(G.summary())
assert torch.equal(G(hr), deterministic_lr)  # zero-initialised: exactly the bare net until trained

# Train as usual; the latents get their own learning rate. (Stand-in loss: match noisy x2 downscales.)
opt = torch.optim.Adam(G.param_groups(lr=1e-4, injection_lr=1e-2), betas=(0.5, 0.999))
for _ in range(30):
    target = nn.functional.avg_pool2d(hr, 2) + 0.05 * torch.randn(4, 3, 32, 32)
    loss = (G(hr) - target).abs().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()

samples = G(hr, n_samples=3, seed=0)  # (4, 3, 3, 32, 32): three LR samples per HR image, reproducible
assert torch.equal(samples, G(hr, n_samples=3, seed=0))
mean_lr = G(hr, mode="mean")  # eps = 0
spread = (samples[:, 0] - samples[:, 1]).abs().mean().item()
print(f"samples {tuple(samples.shape)}, mean |sample 1 - sample 2| = {spread:.4f}")
