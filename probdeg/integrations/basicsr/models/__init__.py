"""probdeg's BasicSR models; registered explicitly by ``probdeg.integrations.basicsr.registration``."""

from .collaborative_sr import CollaborativeSRModel
from .degradation_gan import DegradationGANModel

MODELS = {"DegradationGANModel": DegradationGANModel, "CollaborativeSRModel": CollaborativeSRModel}

__all__ = ["MODELS", "CollaborativeSRModel", "DegradationGANModel"]
