"""The recurrent keyword network of the design (FIG. 4B), its variants and the GRU baseline.

FIG. 4B, one time step ``t`` (shapes for batch ``B``, ``C`` channels, ``M`` Mel bins)::

    window x_t [B, W, M] --420 trained 1x1 (W -> C), bound--> u_t [B, C, M] --430 bio-conv--> a_t
    hidden h_{t-1} [B, C, M] ----------------------------------------410 bio-conv--> b_t
    440 combination(a_t, b_t) -> h_t (new hidden state) and o_t (output)
    read-out (trained linear over o_t flattened) -> logits [B, n_classes]

The frozen bio-convolutions (410, 430) slide along the Mel axis with kernels taken from neurons of
the connectome's auditory sub-graph. Only 420, 440 (when ``combination='trained'``) and the
read-out are trained.

``fig4a``: ``h_t = act(bio(bound(420(x_t)) + h_{t-1}))``, one bio-conv layer inside the
recurrence. ``fig3``: ``readout(act(bio(bound(420(x_t)))))``, feed-forward per window.
``gru``: the conventional baseline, a GRU over the window's new Mel frames with a linear
read-out, sized to the same trained-parameter budget.

Every network offers the same two entry points on one set of weights:
``forward(mel [B, F, M]) -> logits [B, F // S, n_classes]`` for batches of clips and
``step(window [B, W, M], state) -> (logits [B, n_classes], state)`` for streaming.
The state is a tuple of tensors from ``initial_state(batch)``; its last element is the step
counter (float ``[1]``) used by the kernel schedule.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from wakeword.errors import ConfigError
from wakeword.model.bioconv import BioConv
from wakeword.model.config import NetworkConfig

__all__ = [
    "GRUNetwork",
    "KeywordNetwork",
    "build_network",
    "clip_logits",
    "diverse_order",
    "negative_step_loss",
    "select_kernels",
]

State = tuple[Tensor, ...]


def _activation(name: str) -> nn.Module:
    return {"tanh": nn.Tanh(), "relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(0.1)}[name]


def _bound(name: str, channels: int) -> nn.Module:
    return {"tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(), "batchnorm": nn.BatchNorm1d(channels)}[name]


def _readout(in_features: int, config: NetworkConfig) -> nn.Module:
    """The trained read-out: linear, or linear -> ReLU -> linear with ``readout_hidden`` units."""
    if config.readout_hidden <= 0:
        return nn.Linear(in_features, config.n_classes)
    return nn.Sequential(nn.Linear(in_features, config.readout_hidden), nn.ReLU(),
                         nn.Linear(config.readout_hidden, config.n_classes))


def _linear_macs(module: nn.Module) -> int:
    return sum(m.in_features * m.out_features for m in module.modules() if isinstance(m, nn.Linear))


def diverse_order(kernels: np.ndarray, length: int) -> np.ndarray:
    """Bank rows ordered so that each next kernel's frequency response along the Mel axis is the
    least like those already taken (greedy, smallest maximum cosine similarity of the magnitude
    responses); starts from the kernel least like all others. Deterministic."""
    kernels = np.asarray(kernels, dtype=np.float64)
    response = np.abs(np.fft.rfft(kernels, n=max(length, kernels.shape[1]), axis=1))
    response /= np.maximum(np.linalg.norm(response, axis=1, keepdims=True), 1e-12)
    cosine = response @ response.T
    order = [int(np.argmin(cosine.mean(axis=1)))]
    rest = [i for i in range(len(kernels)) if i != order[0]]
    while rest:
        nearest = cosine[np.ix_(rest, order)].max(axis=1)
        pick = rest[int(np.argmin(nearest))]
        order.append(pick)
        rest.remove(pick)
    return np.asarray(order, dtype=np.int64)


def select_kernels(
    kernels: np.ndarray, path: np.ndarray, config: NetworkConfig
) -> tuple[Tensor, Tensor | None]:
    """Pick the kernel sets for 430 (input branch) and 410 (hidden branch) from a bank.

    Returns ``(k430 [sets, C, K], k410 [sets, C_h, K] or None)``. Without a schedule there is one
    set: 430 takes bank rows ``0..C-1`` and 410 the next ``C_h`` rows (or the same rows with
    ``share_kernels``). With ``kernel_schedule`` there is one set per path neuron: at step ``t``
    channel ``c`` of 430 takes path neuron ``(t + c) mod T`` and channel ``c`` of 410 takes
    ``(t + C + c) mod T``.
    """
    kernels = np.asarray(kernels, dtype=np.float32)
    if kernels.ndim != 2:
        raise ConfigError(f"kernel bank kernels must be [N, K], got shape {kernels.shape}")
    if config.kernel_selection == "diverse" and not config.kernel_schedule:
        kernels = kernels[diverse_order(kernels, config.n_mels)]
    c_in = config.channels
    c_hidden = config.hidden_channels
    needs_hidden = config.architecture == "fig4b"
    if config.kernel_schedule:
        path = np.asarray(path, dtype=np.int64)
        if path.size < 1:
            raise ConfigError("kernel_schedule needs a neuron path in the kernel bank, but the "
                              "bank's path is empty; rebuild the bank with a path or turn the "
                              "schedule off")
        steps = np.arange(path.size)[:, None]
        k430 = kernels[path[(steps + np.arange(c_in)[None, :]) % path.size]]
        k410 = None
        if needs_hidden:
            offset = 0 if config.share_kernels else c_in
            k410 = kernels[path[(steps + offset + np.arange(c_hidden)[None, :]) % path.size]]
    else:
        needed = c_in + (0 if (config.share_kernels or not needs_hidden) else c_hidden)
        if kernels.shape[0] < needed:
            raise ConfigError(
                f"the kernel bank has {kernels.shape[0]} kernels but channels={c_in} with "
                f"architecture {config.architecture!r} needs {needed}; lower network.channels "
                "or build a bank with more kernels (wakeword kernels --recipe ...)")
        k430 = kernels[None, :c_in]
        k410 = None
        if needs_hidden:
            if config.share_kernels:
                if c_hidden != c_in:
                    raise ConfigError("share_kernels needs the hidden state to have as many "
                                      "channels as the input branch; don't combine it with "
                                      "combination='concat'")
                k410 = kernels[None, :c_in]
            else:
                k410 = kernels[None, c_in : c_in + c_hidden]
    t430 = torch.from_numpy(np.array(k430, dtype=np.float32))
    t410 = None if k410 is None else torch.from_numpy(np.array(k410, dtype=np.float32))
    if config.kernel_source == "random":
        gen = torch.Generator().manual_seed(config.kernel_seed)
        t430 = _permute_taps(t430, gen)
        t410 = None if t410 is None else _permute_taps(t410, gen)
    return t430, t410


def _permute_taps(kernels: Tensor, gen: torch.Generator) -> Tensor:
    """Shuffle each kernel's taps: same values, norm and sparsity, no connectome structure."""
    flat = kernels.reshape(-1, kernels.shape[-1])
    out = torch.stack([row[torch.randperm(row.numel(), generator=gen)] for row in flat])
    return out.reshape(kernels.shape)


def clip_logits(step_logits: Tensor, pooling: str = "max") -> Tensor:
    """Clip-level logits ``[B, n_classes]`` from per-step logits ``[B, T, n_classes]``.

    ``max``: the logits of the step where a keyword is most likely (largest keyword log-odds over
    background), so a positive clip needs one confident step and a negative clip is judged by its
    most keyword-like step. ``mean``: the average over steps.
    """
    if pooling == "mean":
        return step_logits.mean(dim=1)
    margin = step_logits[..., 1:].max(dim=-1).values - step_logits[..., 0]  # [B, T]
    best = margin.argmax(dim=1)  # [B]
    # Select the best step with a mask instead of ``gather``: the values are identical, and the
    # gradient is a ``where`` rather than a scatter, which LiteRT cannot run (exported
    # training-step graphs use this function).
    steps = torch.arange(step_logits.shape[1], device=step_logits.device)
    chosen = (steps[None, :] == best[:, None])[..., None]  # [B, T, 1]
    return torch.where(chosen, step_logits, torch.zeros_like(step_logits)).sum(dim=1)


def negative_step_loss(step_logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of every step of the negative clips (label 0) against background;
    zero when the batch has no negative clip."""
    negative = step_logits[labels == 0]
    if negative.shape[0] == 0:
        return step_logits.new_zeros(())
    flat = negative.reshape(-1, negative.shape[-1])
    return torch.nn.functional.cross_entropy(
        flat, torch.zeros(flat.shape[0], dtype=torch.int64, device=flat.device))


class _WindowedNetwork(nn.Module):
    """Shared clip/stream plumbing: windows from Mel frames and the step loop."""

    config: NetworkConfig

    def __init__(self, config: NetworkConfig, silence_value: float) -> None:
        super().__init__()
        self.config = config
        self.silence_value = float(silence_value)

    def windows(self, mel: Tensor) -> Tensor:
        """``[B, F, M] -> [B, F // S, W, M]``: step ``t`` sees the W frames ending at ``(t+1)S``.

        The sequence is preceded by ``W - S`` frames of silence, the history a fresh stream
        starts with, so clip and streaming paths see the same windows.
        """
        cfg = self.config
        if mel.dim() != 3 or mel.shape[-1] != cfg.n_mels:
            raise ConfigError(f"expected Mel features [batch, frames, {cfg.n_mels}], got "
                              f"{tuple(mel.shape)}; check frontend.n_mels == network.n_mels")
        if mel.shape[1] < cfg.stride_frames:
            raise ConfigError(
                f"the input has {mel.shape[1]} Mel frames but one step needs {cfg.stride_frames} "
                f"new frames ({cfg.stride_frames * 10} ms); give at least that much audio")
        pad = mel.new_full((mel.shape[0], cfg.history_frames, cfg.n_mels), self.silence_value)
        padded = torch.cat([pad, mel], dim=1)
        return padded.unfold(1, cfg.window_frames, cfg.stride_frames).permute(0, 1, 3, 2)

    def initial_history(self, batch: int) -> Tensor:
        cfg = self.config
        return torch.full((batch, cfg.history_frames, cfg.n_mels), self.silence_value)

    def initial_state(self, batch: int) -> State:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, window: Tensor, state: State) -> tuple[Tensor, State]:  # pragma: no cover
        raise NotImplementedError

    def forward(self, mel: Tensor) -> Tensor:
        """Per-step logits ``[B, F // S, n_classes]`` for clips of Mel frames ``[B, F, M]``."""
        windows = self.windows(mel)
        state = tuple(s.to(mel) for s in self.initial_state(mel.shape[0]))
        outputs = []
        for t in range(windows.shape[1]):
            logits, state = self.step(windows[:, t], state)
            outputs.append(logits)
        return torch.stack(outputs, dim=1)

    # -- bookkeeping ------------------------------------------------------------------------
    def trained_parameters(self) -> dict[str, nn.Parameter]:
        return {n: p for n, p in self.named_parameters() if p.requires_grad}

    def frozen_tensors(self) -> dict[str, Tensor]:
        """The frozen connectome kernels (buffers named ``*.taps``)."""
        return {n: b for n, b in self.named_buffers() if n.endswith(".taps")}


class KeywordNetwork(_WindowedNetwork):
    """FIG. 4B (default), FIG. 4A and FIG. 3 networks over sliding log-Mel windows."""

    def __init__(self, config: NetworkConfig, kernels: np.ndarray, path: np.ndarray,
                 silence_value: float) -> None:
        super().__init__(config, silence_value)
        if config.architecture == "gru":
            raise ConfigError("use GRUNetwork for architecture='gru'")
        c, m = config.channels, config.n_mels
        trainable = config.kernel_source == "trained"
        k430, k410 = select_kernels(kernels, path, config)
        # 420: a 1x1 layer over the window's frames, or (input_taps > 1) over the frames of
        # input_taps neighbouring Mel bins (stacked as channels, so it stays a 1x1 layer).
        self.input_layer = nn.Conv1d(config.window_frames * config.input_taps, c, kernel_size=1)
        self.input_bound = _bound(config.bound, c)
        self.bio_input = BioConv(k430, m, trainable=trainable)  # 430
        self.bio_hidden = BioConv(k410, m, trainable=trainable) if k410 is not None else None  # 410
        self.act = _activation(config.activation)
        self.combine: nn.Module | None = None  # 440 (trained)
        self.output_layer: nn.Module | None = None
        self.gate: nn.Module | None = None
        if config.architecture == "fig4b" and config.combination == "trained":
            self.combine = nn.Conv1d(2 * c, c, kernel_size=1)
            if config.gated:
                self.gate = nn.Conv1d(2 * c, c, kernel_size=1)
            if config.separate_output:
                self.output_layer = nn.Conv1d(2 * c, c, kernel_size=1)
        out_channels = config.hidden_channels if config.architecture == "fig4b" else c
        self.dropout = nn.Dropout(config.dropout)
        self.readout = _readout(out_channels * m, config)
        self._uses_schedule = config.kernel_schedule
        # The clip path runs 420 as one strided convolution over time (fast to train); the
        # exporter of training-step graphs turns this off (it lowers only 1x1 convolutions).
        self.strided_input = True

    def initial_state(self, batch: int) -> State:
        cfg = self.config
        hidden_c = cfg.hidden_channels if cfg.architecture == "fig4b" else cfg.channels
        return torch.zeros(batch, hidden_c, cfg.n_mels), torch.zeros(1)

    def step(self, window: Tensor, state: State) -> tuple[Tensor, State]:
        hidden, counter = state
        index = counter.to(torch.int64) if self._uses_schedule else None
        u = self.input_bound(self.input_layer(self._mix_input(window)))  # [B, C, M]
        arch = self.config.architecture
        if arch == "fig3":
            out = self.act(self.bio_input(u, index))
            new_hidden = hidden
        elif arch == "fig4a":
            out = self.act(self.bio_input(u + hidden, index))
            new_hidden = out
        else:
            a = self.bio_input(u, index)
            b = self.bio_hidden(hidden, index)  # type: ignore[misc]
            combo = self.config.combination
            if combo == "trained":
                both = torch.cat([a, b], dim=1)
                new_hidden = self.act(self.combine(both))  # type: ignore[misc]
                if self.gate is not None:
                    keep = torch.sigmoid(self.gate(both))
                    new_hidden = hidden + keep * (new_hidden - hidden)
                out = self.act(self.output_layer(both)) if self.output_layer is not None else new_hidden
            elif combo == "add":
                new_hidden = out = self.act(a + b)
            elif combo == "multiply":
                new_hidden = out = self.act(a * b)
            else:  # concat: hidden has 2C channels; 410's two halves are summed back to C
                c = a.shape[1]
                new_hidden = out = self.act(torch.cat([a, b[:, :c] + b[:, c:]], dim=1))
        logits = self.readout(self.dropout(out.flatten(1)))
        return logits, (new_hidden, counter + 1)

    def forward(self, mel: Tensor) -> Tensor:
        """Per-step logits ``[B, F // S, n_classes]`` for clips ``[B, F, M]``.

        For FIG. 4B with a trained 440 and no kernel schedule this runs the same arithmetic as
        the step loop, rearranged for speed (about 5x on a CPU): the input branch (420 -> 430)
        does not depend on the state, so it runs for all steps at once, and the recurrence keeps
        its state as ``[C, B, M]`` so each bio-conv and 1x1 layer is one matrix product. Other
        variants (and streaming, and the exported graphs) use :meth:`step`.
        """
        cfg = self.config
        if (cfg.architecture != "fig4b" or cfg.combination != "trained" or cfg.kernel_schedule
                or cfg.bound == "batchnorm" or self.output_layer is not None):
            return super().forward(mel)
        b, m = mel.shape[0], mel.shape[2]
        t, k, w = mel.shape[1] // cfg.stride_frames, cfg.input_taps, cfg.window_frames
        c = self.input_layer.weight.shape[0]
        if self.strided_input:
            # 420 on every window at once: a strided convolution over time whose input
            # channels are the k Mel shifts (the same sums as the 1x1 layer per window).
            self.windows(mel[:, : cfg.stride_frames])  # the same shape checks as the loop
            history = mel.new_full((b, cfg.history_frames, m), self.silence_value)
            frames = torch.cat([history, mel[:, : t * cfg.stride_frames]], dim=1)  # [B, L, M]
            shifted = self._mix_input(frames.unsqueeze(1)).reshape(b, k, -1, m)
            x = shifted.permute(0, 3, 1, 2).reshape(b * m, k, -1)  # [B*M, k, L]
            u = torch.nn.functional.conv1d(x, self.input_layer.weight.reshape(c, k, w),
                                           self.input_layer.bias, stride=cfg.stride_frames)
            u = self.input_bound(u).reshape(b, m, c, t).permute(2, 0, 3, 1)  # [C, B, T, M]
        else:  # matrix products only (exported training-step graphs)
            windows = self.windows(mel)  # [B, T, W, M]
            mixed = self._mix_input(windows.reshape(b * t, w, m))  # [B*T, W*k, M]
            x = mixed.permute(1, 0, 2).reshape(w * k, b * t * m)
            u = self.input_bound(self.input_layer.weight[:, :, 0] @ x
                                 + self.input_layer.bias[:, None])  # [C, B*T*M]
        a_all = torch.bmm(u.reshape(c, b * t, m), self.bio_input.matrices()[0])
        a_all = a_all.reshape(c, b, t, m)
        band = self.bio_hidden.matrices()[0]  # type: ignore[union-attr]
        wc, bc = self.combine.weight[:, :, 0], self.combine.bias[:, None]  # type: ignore[union-attr]
        if self.gate is not None:
            wg, bg = self.gate.weight[:, :, 0], self.gate.bias[:, None]
        hidden = mel.new_zeros(c, b, m)
        states = []
        # unbind, not a_all[:, :, step]: its backward is a stack, where indexing would put one
        # constant mask per step into exported training-step graphs
        for a_t in a_all.unbind(2):
            bh = torch.bmm(hidden, band)  # 410 on the previous state, [C, B, M]
            both = torch.cat([a_t, bh], dim=0).reshape(2 * c, b * m)
            new = self.act(wc @ both + bc).reshape(c, b, m)
            if self.gate is not None:
                keep = torch.sigmoid(wg @ both + bg).reshape(c, b, m)
                new = hidden + keep * (new - hidden)
            hidden = new
            states.append(hidden)
        # [T, B, C*M], dropped out step by step in the loop's order, so training draws the
        # same random masks as the step loop would
        out = torch.stack(states, dim=0).permute(0, 2, 1, 3).reshape(t, b, c * m)
        dropped = torch.stack([self.dropout(o) for o in out.unbind(0)], dim=1)
        return self.readout(dropped)

    def _mix_input(self, window: Tensor) -> Tensor:
        """``[B, W, M] -> [B, W * input_taps, M]``: each bin with its neighbours (zero padded),
        built from slices so exported graphs and training-step graphs need no convolution."""
        taps = self.config.input_taps
        if taps == 1:
            return window
        m, half = window.shape[-1], taps // 2
        padded = torch.nn.functional.pad(window, (half, half))
        return torch.cat([padded[..., i : i + m] for i in range(taps)], dim=1)

    def macs_per_step(self) -> int:
        """Multiply-accumulates per step (bio-convs counted as direct convolutions)."""
        cfg = self.config
        c, m, w = cfg.channels, cfg.n_mels, cfg.window_frames * cfg.input_taps
        macs = w * c * m + self.bio_input.macs_per_call()
        if self.bio_hidden is not None:
            macs += self.bio_hidden.macs_per_call()
        if self.combine is not None:
            macs += 2 * c * c * m
        if self.gate is not None:
            macs += 2 * c * c * m + 3 * c * m
        if self.output_layer is not None:
            macs += 2 * c * c * m
        return macs + _linear_macs(self.readout)

    def macs_per_step_as_exported(self) -> int:
        """Multiply-accumulates per step with bio-convs as the band-matrix multiplies we run."""
        cfg = self.config
        extra = 0
        for layer in (self.bio_input, self.bio_hidden):
            if layer is not None:
                extra += layer.channels * cfg.n_mels * cfg.n_mels - layer.macs_per_call()
        return self.macs_per_step() + extra


class GRUNetwork(_WindowedNetwork):
    """Conventional baseline: a GRU over Mel frames, read out once per step.

    Each step feeds the window's ``S`` newest frames to the GRU (10 ms per GRU update) and reads
    the last hidden state out linearly. ``gru_hidden`` sets the size (13 matches the default
    FIG. 4B network's trained-parameter count).
    """

    def __init__(self, config: NetworkConfig, silence_value: float) -> None:
        super().__init__(config, silence_value)
        self.cell = nn.GRUCell(config.n_mels, config.gru_hidden)
        self.dropout = nn.Dropout(config.dropout)
        self.readout = _readout(config.gru_hidden, config)

    def initial_state(self, batch: int) -> State:
        return torch.zeros(batch, self.config.gru_hidden), torch.zeros(1)

    def step(self, window: Tensor, state: State) -> tuple[Tensor, State]:
        hidden, counter = state
        for f in range(window.shape[1] - self.config.stride_frames, window.shape[1]):
            hidden = self.cell(window[:, f], hidden)
        return self.readout(self.dropout(hidden)), (hidden, counter + 1)

    def forward(self, mel: Tensor) -> Tensor:
        """Per-step logits for clips: the same GRU updates as :meth:`step`, run by torch's
        fused GRU over all frames (much faster to train than the cell loop)."""
        self.windows(mel)  # shape checks
        s = self.config.stride_frames
        frames = mel[:, : mel.shape[1] - mel.shape[1] % s]
        cell = self.cell
        hx = mel.new_zeros(1, mel.shape[0], self.config.gru_hidden)
        params = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
        out, _ = torch._VF.gru(frames, hx, params, True, 1, 0.0, self.training, False, True)
        return self.readout(self.dropout(out[:, s - 1 :: s]))

    def macs_per_step(self) -> int:
        h, m, s = self.config.gru_hidden, self.config.n_mels, self.config.stride_frames
        return s * 3 * (m * h + h * h) + _linear_macs(self.readout)

    macs_per_step_as_exported = macs_per_step


def build_network(config: NetworkConfig, kernels: np.ndarray, path: np.ndarray,
                  silence_value: float) -> _WindowedNetwork:
    """The network for ``config`` (kernels and path from a ``KernelBank``)."""
    if config.architecture == "gru":
        return GRUNetwork(config, silence_value)
    return KeywordNetwork(config, kernels, path, silence_value)


def count_parameters(net: nn.Module) -> tuple[int, int]:
    """``(trained, frozen)`` element counts; frozen counts the kernel taps actually used."""
    trained = sum(p.numel() for p in net.parameters() if p.requires_grad)
    frozen = sum(b.numel() for n, b in net.named_buffers() if n.endswith(".taps"))
    return trained, frozen


def steps_per_second(config: NetworkConfig, hop_ms: float) -> float:
    return 1000.0 / (config.stride_frames * hop_ms)

