"""Network architectures: degradation generators and the frequency-separation discriminator."""

from probdeg.archs.deresnet import DeResnet, ResidualBlock
from probdeg.archs.discriminator import FSDiscriminator
from probdeg.archs.probabilistic import probabilistic_deresnet, probabilistic_strided_han
from probdeg.archs.strided_han import (
    RCAB,
    ChannelAttention,
    ChannelSpatialAttention,
    LayerAttention,
    ResidualGroup,
    StridedHAN,
)

__all__ = [
    "RCAB",
    "ChannelAttention",
    "ChannelSpatialAttention",
    "DeResnet",
    "FSDiscriminator",
    "LayerAttention",
    "ResidualBlock",
    "ResidualGroup",
    "StridedHAN",
    "probabilistic_deresnet",
    "probabilistic_strided_han",
]
