"""wakeword: keyword spotting with connectome-derived frozen convolution kernels.

Data flows one way: connectome -> kernels -> features -> model -> data -> train -> eval,
then ``export`` writes device models and ``device_runtime`` runs them without torch.
Nothing happens at import time: no threads, seeds or downloads.
"""

from wakeword.errors import WakewordError

__version__ = "0.1.0"
__all__ = ["WakewordError", "__version__"]
