"""PyTorch modules: the FIG. 4B recurrent network, its variants, baselines and the full model."""

from wakeword.model.config import NetworkConfig
from wakeword.model.network import GRUNetwork, KeywordNetwork, build_network, clip_logits
from wakeword.model.wakeword_model import WakeWordModel

__all__ = [
           "GRUNetwork",
           "KeywordNetwork",
           "NetworkConfig",
           "WakeWordModel",
           "build_network",
           "clip_logits",
]
