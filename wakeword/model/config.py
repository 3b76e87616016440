"""Network configuration: one frozen dataclass, saved into checkpoints and manifests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from wakeword.errors import ConfigError

__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "COMBINATIONS",
    "KERNEL_SOURCES",
    "NetworkConfig",
]

ARCHITECTURES = ("fig4b", "fig4a", "fig3", "gru")
COMBINATIONS = ("trained", "add", "multiply", "concat")
ACTIVATIONS = ("tanh", "relu", "leaky_relu")
BOUNDS = ("tanh", "sigmoid", "batchnorm")
KERNEL_SOURCES = ("connectome", "random", "trained")
CLIP_POOLINGS = ("max", "mean")
KERNEL_SELECTIONS = ("first", "diverse")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"network.{name} is {value!r}; use one of {list(allowed)}")


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """The recurrent keyword network (FIG. 4B of the design by default).

    Time: each step reads a window of the last ``window_frames`` log-Mel frames and advances by
    ``stride_frames`` (a step is ``stride_frames * 10 ms``; 8 frames = 80 ms = one streaming
    chunk). Space: the frozen bio-convolutions slide along the Mel axis (``n_mels`` bins), with
    ``channels`` depthwise channels, each channel's kernel one neuron's row from the kernel bank.

    Fields:
        architecture: ``fig4b`` (410 on the hidden state, 420 -> 430 on the input, 440 combines),
            ``fig4a`` (one bio-conv layer inside the recurrence), ``fig3`` (trained -> bio-conv ->
            trained, feed-forward per window), or ``gru`` (the conventional baseline).
        kernel_source: ``connectome`` (the bank's kernels, frozen), ``random`` (the bank's kernels
            with their entries permuted by a seeded generator: same shape, norm and value
            distribution, no connectome structure; frozen), or ``trained`` (initialised from the
            bank, then trained: the "kernels trained" baseline).
        combination: 440 as a ``trained`` 1x1 layer over the concatenated branches, or the
            parameter-free ``add`` / ``multiply`` / ``concat`` followed by ``activation``.
        separate_output: the output comes from its own trained 1x1 layer instead of being the new
            hidden state (only with ``combination='trained'``).
        bound: the bounded activation (``tanh``/``sigmoid``) or ``batchnorm`` applied to the trained
            input layer's output before it enters the frozen layer 430.
        kernel_schedule: use a different kernel set at each time step, walking the bank's neuron
            path (channel ``c`` at step ``t`` takes path neuron ``(t + c) mod T``), cycling.
        share_kernels: 410 and 430 use the same kernels (else 430 takes bank rows ``0..C-1`` and
            410 rows ``C..2C-1``).
        readout_hidden: units of a trained hidden layer (ReLU) in the read-out; 0 makes the
            read-out one linear layer over the output state.
        gru_hidden: hidden size of the ``gru`` baseline (13 matches the default's trained budget).
        input_taps: Mel bins each output bin of 420 reads (odd; 1 = the 1x1 layer). With more
            taps the trained input layer mixes neighbouring frequencies, which the frozen
            kernels (mostly low-pass along the Mel axis) cannot do.
        gated: 440 as a trained gate (GRU-like): ``z = sigmoid(G [a; b])``, candidate
            ``c = act(W [a; b])``, ``h_t = (1 - z) * h_{t-1} + z * c``, so the network decides
            per unit how much of the old state to keep (only with ``combination='trained'``).
        kernel_selection: ``first`` takes the bank's rows in order; ``diverse`` picks, greedily,
            the kernels whose frequency responses along the Mel axis are least alike (430 first,
            then 410 from the rest), so the channels are not near-duplicate smoothers.
    """

    keywords: tuple[str, ...] = ("computer",)
    architecture: str = "fig4b"
    n_mels: int = 32
    window_frames: int = 16
    stride_frames: int = 8
    channels: int = 16
    kernel_source: str = "connectome"
    kernel_seed: int = 0
    combination: str = "trained"
    activation: str = "tanh"
    separate_output: bool = False
    bound: str = "tanh"
    kernel_schedule: bool = False
    share_kernels: bool = False
    dropout: float = 0.1
    clip_pooling: str = "max"
    readout_hidden: int = 0
    gru_hidden: int = 13
    input_taps: int = 1
    gated: bool = False
    kernel_selection: str = "first"

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", tuple(self.keywords))
        _choice("architecture", self.architecture, ARCHITECTURES)
        _choice("combination", self.combination, COMBINATIONS)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("bound", self.bound, BOUNDS)
        _choice("kernel_source", self.kernel_source, KERNEL_SOURCES)
        _choice("clip_pooling", self.clip_pooling, CLIP_POOLINGS)
        _choice("kernel_selection", self.kernel_selection, KERNEL_SELECTIONS)
        if self.input_taps < 1 or self.input_taps % 2 == 0 or self.input_taps > self.n_mels:
            raise ConfigError(f"network.input_taps is {self.input_taps}; use an odd number "
                              f"from 1 to n_mels ({self.n_mels})")
        if self.gated and (self.architecture != "fig4b" or self.combination != "trained"):
            raise ConfigError("network.gated needs architecture='fig4b' and "
                              "combination='trained' (the gate is part of 440)")
        if not self.keywords or any(not k.strip() for k in self.keywords):
            raise ConfigError("network.keywords is empty; give at least one phrase")
        for name in ("n_mels", "window_frames", "stride_frames", "channels", "gru_hidden"):
            if getattr(self, name) < 1:
                raise ConfigError(f"network.{name} is {getattr(self, name)}; it must be >= 1")
        if self.readout_hidden < 0:
            raise ConfigError(f"network.readout_hidden is {self.readout_hidden}; use 0 (a linear "
                              "read-out) or a positive number of hidden units")
        if self.stride_frames > self.window_frames:
            raise ConfigError(
                f"network.stride_frames ({self.stride_frames}) is larger than window_frames "
                f"({self.window_frames}): frames would be skipped; lower the stride or widen "
                "the window")
        if self.separate_output and self.combination != "trained":
            raise ConfigError("network.separate_output needs combination='trained'")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"network.dropout is {self.dropout}; use a value in [0, 1)")

    # -- derived values -----------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        return len(self.keywords) + 1

    @property
    def class_names(self) -> tuple[str, ...]:
        return ("background", *self.keywords)

    @property
    def hidden_channels(self) -> int:
        """Channels of the recurrent state (``concat`` stacks both branches)."""
        return 2 * self.channels if self.combination == "concat" else self.channels

    @property
    def history_frames(self) -> int:
        """Mel frames a stream keeps between steps: ``window_frames - stride_frames``."""
        return self.window_frames - self.stride_frames

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["keywords"] = list(self.keywords)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"network config: unknown key(s) {unknown}; known: {sorted(known)}")
        return cls(**data)
