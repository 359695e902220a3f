"""Every measurement probdeg makes, one module per thing measured.

- :mod:`.image`: PSNR / SSIM of 8-bit images exactly as BasicSR computes them (``psnr_uint8``, ``ssim_uint8``),
  and ``psnr_float`` for float tensors during training;
- :mod:`.degradation`: figures of generated LR without pairs (noise level, sample spread and rho, patch distance,
  latent strengths);
- :mod:`.sr_scores`: an SR folder against its ground truth (PSNR, SSIM, LPIPS) and its tables;
- :mod:`.scorecard`: the generator scorecard (``probdeg score-generator``);
- :mod:`.robustness`: the noise sweep (Figure 7).

The generator figures are re-exported here (``probdeg.metrics.patch_distance``); the folder-level modules are
imported by name, since they load the application layer.
"""

from .degradation import (
    diversity_ratio,
    folder_noise_level,
    gaussian_pair_distance,
    high_frequency_distance,
    latent_strengths,
    mean_strength,
    noise_level,
    patch_distance,
    sample_diversity,
    sample_spread,
)
from .image import psnr_float, psnr_uint8, ssim_uint8

__all__ = ["diversity_ratio", "folder_noise_level", "gaussian_pair_distance", "high_frequency_distance",
           "latent_strengths", "mean_strength", "noise_level", "patch_distance", "psnr_float", "psnr_uint8",
           "sample_diversity", "sample_spread", "ssim_uint8"]
