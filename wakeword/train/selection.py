"""Checkpoint selection and thresholds on held-out data, never on a benchmark set.

:class:`HeldOut` holds what the data engine keeps apart from training (the ``val`` split: held-out
speakers of every recorded corpus, held-out syntheses):

- **running speech**: every held-out speech clip that does not name the phrase (recorded and
  synthetic), plus the held-out near misses, joined back to back into long streams and scored as
  a device would hear them (state carried through each stream), once as recorded and once with
  a background at 5-15 dB SNR;
- **positives**: the held-out positives, rendered once by the clip server (placement, room,
  background, level).

:meth:`HeldOut.evaluate` scores a model on both: false accepts per hour on the streams for a grid
of thresholds (accepts merged within ``refractory_s``), the threshold that keeps false accepts
at or below ``target_fa_per_hour``, and recall of the positives there. The step trainer keeps
the checkpoint with the best recall at that operating point and ships its threshold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from wakeword.eval.metrics import count_false_accepts

__all__ = ["HeldOut", "operating_point"]

log = logging.getLogger(__name__)

_THRESHOLDS = 1.0 / (1.0 + np.exp(-np.linspace(-6.0, 12.0, 181)))


@dataclass(frozen=True)
class _Streams:
    mel: Any  # torch [S, F, M]
    seconds: float


def operating_point(neg_scores: list[np.ndarray], pos_scores: np.ndarray, hours: float, *,
                    step_s: float, refractory_s: float, target_fa_per_hour: float
                    ) -> dict[str, float]:
    """The lowest threshold of a fixed grid whose false accepts per hour on ``neg_scores``
    (streams of per-step scores) are at most ``target_fa_per_hour``, and the share of
    ``pos_scores`` (each clip's highest score) at or above it."""
    peak = max((float(s.max()) for s in neg_scores if s.size), default=0.0)
    chosen = float(_THRESHOLDS[-1])
    fa = 0.0
    for threshold in _THRESHOLDS:
        if threshold <= peak:
            count = sum(count_false_accepts(s, float(threshold), step_s, refractory_s)
                        for s in neg_scores)
        else:
            count = 0
        if count / hours <= target_fa_per_hour:
            chosen, fa = float(threshold), count / hours
            break
    recall = float(np.mean(pos_scores >= chosen)) if pos_scores.size else float("nan")
    return {"threshold": chosen, "fa_per_hour": fa, "recall": recall,
            "frr": 1.0 - recall, "target_fa_per_hour": target_fa_per_hour}


class HeldOut:
    """Held-out running speech and positives of a :class:`~wakeword.data.engine.TrainingData`."""

    def __init__(self, data: Any, model: Any, val_server: Any, *, stream_s: float = 60.0,
                 refractory_s: float = 1.0, seed: int = 0) -> None:
        import torch

        from wakeword.data.augment import mix_at_snr
        from wakeword.data.negatives import contains_phrase

        self.refractory_s = refractory_s
        rng = np.random.default_rng([seed, 0x5E1])
        phrase = data.config.norm_phrase
        clips: list[np.ndarray] = []
        for name in ("speech", "near_miss"):
            pool = data.pools[name]
            for i in np.flatnonzero(pool.split == "val"):
                text = str(pool.text[i])
                if name == "speech" and text and (contains_phrase(text, phrase)
                                                  or contains_phrase(text, phrase,
                                                                     ignore_spaces=False)):
                    continue
                clips.append(pool.clip(int(i)))
        if not clips:
            from wakeword.errors import DataError

            raise DataError("the data build holds no held-out (val) speech; rebuild with "
                            "val_speaker_fraction > 0")
        order = rng.permutation(len(clips))
        gap = np.zeros(int(0.3 * 16000), np.float32)
        streams: list[np.ndarray] = []
        current: list[np.ndarray] = []
        length = 0
        target = int(stream_s * 16000)
        for i in order:
            current += [clips[i], gap]
            length += clips[i].size + gap.size
            if length >= target:
                streams.append(np.concatenate(current)[:target])
                current, length = [], 0
        if current:
            tail = np.concatenate(current)
            streams.append(np.pad(tail, (0, target - tail.size)) if tail.size < target else tail)
        noise_pool = data.pools["noise"]
        noisy = []
        for s in streams:
            if len(noise_pool):
                k = int(rng.integers(len(noise_pool)))
                noise = noise_pool.clip(k)
                noise = np.resize(noise, s.size) if noise.size else np.zeros_like(s)
                noisy.append(mix_at_snr(s, noise, float(rng.uniform(5.0, 15.0))).astype(np.float32))
        streams = streams + noisy
        self.hours = len(streams) * stream_s / 3600.0
        with torch.no_grad():
            mels = [model.features(torch.from_numpy(np.stack(streams[i:i + 16])))
                    for i in range(0, len(streams), 16)]
        self.stream_mel = torch.cat(mels)
        audio, labels, _ = val_server.fixed_set()
        positives = audio[labels == 1]
        with torch.no_grad():
            self.positive_mel = torch.cat([model.features(torch.from_numpy(positives[i:i + 256]))
                                           for i in range(0, len(positives), 256)])
        self.step_s = model.step_s
        log.info("held out for selection: %.2f h of running speech (%d streams), %d positives",
                 self.hours, len(streams), len(positives))

    def describe(self) -> dict[str, Any]:
        return {"stream_hours": self.hours, "positives": int(self.positive_mel.shape[0]),
                "refractory_s": self.refractory_s}

    def scores(self, network: Any) -> tuple[list[np.ndarray], np.ndarray]:
        """Per-step keyword probabilities of the streams, and each positive's highest."""
        import torch

        was_training = network.training
        network.eval()
        with torch.no_grad():
            neg = []
            for i in range(0, self.stream_mel.shape[0], 32):
                logits = network(self.stream_mel[i:i + 32])
                neg.extend(torch.softmax(logits, -1)[..., 1:].max(-1).values.numpy())
            pos = []
            for i in range(0, self.positive_mel.shape[0], 256):
                logits = network(self.positive_mel[i:i + 256])
                pos.append(torch.softmax(logits, -1)[..., 1:].max(-1).values.max(-1).values)
        network.train(was_training)
        return [np.asarray(s, np.float64) for s in neg], torch.cat(pos).numpy().astype(np.float64)

    def evaluate(self, network: Any, target_fa_per_hour: float) -> dict[str, float]:
        neg, pos = self.scores(network)
        return operating_point(neg, pos, self.hours, step_s=self.step_s,
                               refractory_s=self.refractory_s,
                               target_fa_per_hour=target_fa_per_hour)
