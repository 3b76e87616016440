"""On-device fine-tuning ("enrollment") from a folder of the user's own keyword clips.

No torch: the model folder ships a training-step graph (``train_step.onnx`` / ``.tflite``,
described by the manifest's ``train_step``) that returns the loss and the gradient of every
trained weight; the optimiser is Adam in numpy. Only ``weights.npz`` and ``manifest.json``
change; the graphs are copied as they are.

How :func:`enroll` works:

1. Clips: each readable, non-silent audio file of ``positives_dir`` is resampled to the
   model's rate and cropped or zero-padded to ``clip_samples`` so that the keyword (the span
   above -30 dB of the clip's peak frame energy) ends ``tail_s`` before the end. Bad files
   are skipped and listed in the result; fewer than :data:`MIN_POSITIVES` usable clips is an
   :class:`EnrollmentError`. Some clips (``val_fraction``, at least one) are held out.
2. Negatives, label 0: windows of the files in ``negatives_dir``, generated white and
   low-passed noise at several levels and near-silence, plus the model's own stored
   negatives (``negatives.npz``) when the folder has them, each split into train and held-out
   parts, so false accepts are checked and do not climb.
3. Training: balanced batches (half positives with random gain, shift and noise, half
   negatives), Adam, plus an L2 pull towards the original weights that keeps the model close
   to what it was trained to do.
4. Validation: the held-out positives and negatives go through the real :class:`Detector`
   (reset per clip, score = the keyword's smoothed probability, max over steps) for the
   original and the new weights. The new model is *accepted* when the held-out positives'
   mean score did not drop and no more held-out negatives reach the threshold.
5. Output: the new folder is built in a temporary folder beside ``out_dir`` and swapped into
   place atomically (:mod:`device_runtime.folders`); the original is only read. An existing
   ``out_dir`` is refused unless ``overwrite=True``, and even then it is only replaced when it
   is itself a model folder that holds neither the base model nor the clips. Temporary folders
   of a killed run are removed by the next one; files get the user's umask. The manifest's ``provenance["enrollment"]`` records the base model,
   data counts, scores and ``accepted``; when validation got worse it says so and the
   detector warns on loading it, so the original stays the default.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from device_runtime.audio import SOUNDFILE_SUFFIXES
from device_runtime.audio_file import iter_audio, read_audio
from device_runtime.backends import open_backend, resolve_backend
from device_runtime.detector import Detector, load_weights
from device_runtime.errors import AudioError, BackendUnavailableError, EnrollmentError, ModelError
from device_runtime.folders import apply_umask, check_target, make_temp_dir, swap_into_place
from device_runtime.manifest import (
    MANIFEST_NAME,
    NEGATIVES_NAME,
    Manifest,
    TensorSpec,
    load_manifest,
    model_file,
    save_manifest,
)
from device_runtime.npz import load_npz

__all__ = ["AUDIO_SUFFIXES", "MIN_POSITIVES", "EnrollResult", "enroll", "prepare_clip"]

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".wave", *SOUNDFILE_SUFFIXES)
MIN_POSITIVES = 3
#: a keyword recording longer than this is refused (skipped with the reason)
MAX_CLIP_S = 30.0
#: when the base model's median score on the recordings is below this, they are most likely
#: of another phrase, and enrolment refuses (unless ``allow_unrecognised``)
MIN_BASE_SCORE = 0.05
MAX_NEGATIVES_BYTES = 1024**3


@dataclass(frozen=True)
class EnrollResult:
    """What :func:`enroll` did and how the new model compares with the original.

    Scores are the keyword's smoothed probability, max over the steps of each held-out clip.
    ``accepted`` is false when validation got worse: the original should stay the default.
    """

    out_dir: Path
    base_dir: Path
    keyword: str
    backend: str
    accepted: bool
    positive_score_before: float  # mean over held-out positives
    positive_score_after: float
    recall_before: float  # fraction of held-out positives reaching the threshold
    recall_after: float
    false_accepts_before: int  # held-out negatives reaching the threshold
    false_accepts_after: int
    threshold: float
    n_train_positives: int
    n_val_positives: int
    n_train_negatives: int
    n_val_negatives: int
    epochs: int
    losses: tuple[float, ...]  # mean training loss per epoch
    skipped: tuple[str, ...]  # "file: reason" for every unusable clip
    seconds: float

    @property
    def summary(self) -> str:
        verdict = ("validation improved or held: use the new model" if self.accepted else
                   "VALIDATION GOT WORSE: keep using the original model "
                   f"{self.base_dir} (the new folder is marked accepted=false)")
        return (f"{self.keyword!r}: held-out score {self.positive_score_before:.3f} -> "
                f"{self.positive_score_after:.3f}, recall {self.recall_before:.0%} -> "
                f"{self.recall_after:.0%} ({self.n_val_positives} clips), false accepts "
                f"{self.false_accepts_before} -> {self.false_accepts_after} of "
                f"{self.n_val_negatives} negatives at threshold {self.threshold:.2f}; {verdict}")


# -- clips ---------------------------------------------------------------------------------------
def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith("."))


def _active_span(samples: np.ndarray, frame: int, floor_db: float = -30.0) -> tuple[int, int]:
    """First and one-past-last sample of the frames within ``floor_db`` of the peak frame."""
    n = samples.size // frame
    if n == 0:
        return 0, samples.size
    energy = (samples[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    active = np.flatnonzero(energy >= energy.max() * 10 ** (floor_db / 10))
    return int(active[0]) * frame, int(active[-1] + 1) * frame


def prepare_clip(samples: np.ndarray, clip_samples: int, sample_rate_hz: int, *,
                 tail_s: float = 0.1) -> np.ndarray:
    """Crop / zero-pad ``samples`` to ``clip_samples`` with the keyword ending ``tail_s``
    before the end (a keyword longer than the clip keeps its end)."""
    _, end = _active_span(samples, max(1, sample_rate_hz // 100))
    end = min(samples.size, end + int(tail_s * sample_rate_hz))
    start = end - clip_samples
    clip = np.zeros(clip_samples, dtype=np.float32)
    piece = samples[max(0, start):end]
    clip[clip_samples - piece.size:] = piece
    return clip


def _load_positives(folder: Path, manifest: Manifest, clip_samples: int, tail_s: float
                    ) -> tuple[list[np.ndarray], list[str], list[np.ndarray]]:
    """Training clips, skipped files ("file: reason") and the whole usable recordings."""
    if not folder.is_dir():
        raise EnrollmentError(f"{folder}: positives folder does not exist; pass a folder of "
                              "WAV recordings of the keyword")
    clips, skipped, recordings = [], [], []
    rate = manifest.sample_rate_hz
    for path in _audio_files(folder):
        try:
            samples = read_audio(path, rate, downmix=True, max_s=MAX_CLIP_S)
        except (AudioError, BackendUnavailableError) as exc:
            skipped.append(f"{path}: {exc}")
            continue
        peak = float(np.max(np.abs(samples)))
        if samples.size < rate // 10:
            skipped.append(f"{path}: shorter than 0.1 s")
        elif peak < 1e-3:
            skipped.append(f"{path}: silent (peak {peak:.1e})")
        else:
            clips.append(prepare_clip(samples, clip_samples, rate, tail_s=tail_s))
            recordings.append(samples)
    return clips, skipped, recordings


def _load_negative_windows(folder: Path, manifest: Manifest, clip_samples: int,
                           per_file: int = 8) -> tuple[list[np.ndarray], list[str]]:
    if not folder.is_dir():
        raise EnrollmentError(f"{folder}: negatives folder does not exist")
    clips, skipped = [], []
    wanted = per_file * clip_samples  # only the start of a long file is read
    for path in _audio_files(folder):
        try:
            pieces, size = [], 0
            for block in iter_audio(path, manifest.sample_rate_hz, downmix=True):
                pieces.append(block)
                size += block.size
                if size >= wanted:
                    break
            samples = np.concatenate(pieces)[:wanted]
        except (AudioError, BackendUnavailableError) as exc:
            skipped.append(f"{path}: {exc}")
            continue
        if samples.size < clip_samples:
            clip = np.zeros(clip_samples, dtype=np.float32)
            clip[clip_samples - samples.size:] = samples
            clips.append(clip)
            continue
        starts = range(0, samples.size - clip_samples + 1, clip_samples)
        clips.extend(samples[s:s + clip_samples].copy() for s in list(starts)[:per_file])
    return clips, skipped


def _generated_negatives(rng: np.random.Generator, count: int, clip_samples: int
                         ) -> list[np.ndarray]:
    """White noise, low-passed noise (room-noise levels, -60 to -35 dBFS rms) and near-silence."""
    clips = []
    for i in range(count):
        level = 10 ** rng.uniform(-3.0, -1.75)
        noise = rng.normal(0.0, 1.0, clip_samples)
        kind = i % 3
        if kind == 1:  # low-passed (rumble, fan-like): first-order roll-off above 50-500 Hz
            spectrum = np.fft.rfft(noise)
            corner = rng.uniform(0.006, 0.06) * spectrum.size  # in rfft bins
            spectrum /= 1.0 + 1j * np.arange(spectrum.size) / corner
            out = np.fft.irfft(spectrum, n=clip_samples)
            noise = out / (out.std() + 1e-12)
        elif kind == 2:
            level = 10 ** rng.uniform(-4.5, -3.5)
        clips.append((level * noise).astype(np.float32))
    return clips


def _stored_negatives(model_dir: Path, clip_samples: int) -> list[np.ndarray]:
    path = model_file(model_dir, NEGATIVES_NAME, field_name="negatives")
    if not path.is_file():
        return []
    stored = load_npz(path, max_bytes=MAX_NEGATIVES_BYTES,
                      fix=f"re-export the model (or delete {NEGATIVES_NAME})")
    if "audio" not in stored or stored["audio"].dtype.kind != "f":
        raise ModelError(f"{path}: expected a float array 'audio' [n, {clip_samples}] (it holds "
                         f"{sorted(stored)}); re-export the model")
    audio = stored["audio"].astype(np.float32, copy=False)
    if audio.ndim != 2 or audio.shape[1] != clip_samples:
        raise ModelError(f"{path}: 'audio' has shape {list(audio.shape)}, expected "
                         f"[n, {clip_samples}]; re-export the model")
    if not np.isfinite(audio).all():
        raise ModelError(f"{path}: 'audio' holds NaN or infinite samples; re-export the model "
                         f"(or delete {NEGATIVES_NAME} to enrol without stored negatives)")
    return list(audio)


def _split(items: Sequence[np.ndarray], fraction: float, rng: np.random.Generator,
           minimum: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    order = rng.permutation(len(items))
    n_val = min(len(items) - 1, max(minimum, round(len(items) * fraction))) \
        if len(items) > 1 else 0
    return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]]


# -- validation ----------------------------------------------------------------------------------
def _clip_scores(detector: Detector, clips: Sequence[np.ndarray], class_index: int
                 ) -> np.ndarray:
    """Max smoothed keyword score per clip, each clip after a reset, with silence before
    (for the warm-up) and one chunk after (so the keyword's end is scored)."""
    lead = np.zeros((detector.manifest.warmup_steps + detector.smoothing_steps)
                    * detector.chunk_samples, dtype=np.float32)
    tail = np.zeros(detector.chunk_samples, dtype=np.float32)
    scores = []
    for clip in clips:
        detector.reset()
        detector.process(np.concatenate([lead, clip, tail]))
        trace = detector.scores
        column = trace.smoothed[trace.ready, class_index]
        scores.append(float(column.max()) if column.size else 0.0)
    return np.asarray(scores)


def _evaluate(model_dir: Path, backend: str, keyword: str, positives: Sequence[np.ndarray],
              negatives: Sequence[np.ndarray]) -> tuple[float, float, int, float]:
    with Detector(model_dir, backend=backend, trace_s=None) as det:
        k = det.class_names.index(keyword)
        threshold = det.thresholds[keyword]
        pos = _clip_scores(det, positives, k)
        neg = _clip_scores(det, negatives, k)
    return (float(pos.mean()), float((pos >= threshold).mean()),
            int((neg >= threshold).sum()), threshold)


def _check_phrase(model_dir: Path, backend: str, keyword: str, recordings: Sequence[np.ndarray],
                  positives_dir: str | os.PathLike[str], allow: bool) -> None:
    """Refuse recordings the base model scores near zero: most likely another phrase."""
    with Detector(model_dir, backend=backend, trace_s=None) as det:
        scores = _clip_scores(det, recordings, det.class_names.index(keyword))
    median = float(np.median(scores))
    if median >= MIN_BASE_SCORE:
        return
    message = (f"{positives_dir}: the base model scores these recordings near zero (median "
               f"{median:.3f}, max {float(scores.max()):.3f} for {keyword!r}); they most likely "
               f"say another phrase, and fine-tuning on them would teach the model a new word "
               "from a few clips and miss the real one")
    logger.warning("%s", message)
    if not allow:
        raise EnrollmentError(f"{message}. Record clips of {keyword!r}, or pass "
                              "allow_unrecognised=True (CLI: --allow-unrecognised) if the base "
                              "model just hears your voice badly")


# -- training ------------------------------------------------------------------------------------
class _Adam:
    def __init__(self, params: dict[str, np.ndarray], lr: float, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = {k: np.zeros_like(v, dtype=np.float64) for k, v in params.items()}
        self.v = {k: np.zeros_like(v, dtype=np.float64) for k, v in params.items()}
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]
             ) -> dict[str, np.ndarray]:
        self.t += 1
        out = {}
        for k, p in params.items():
            g = grads[k].astype(np.float64)
            self.m[k] = self.beta1 * self.m[k] + (1 - self.beta1) * g
            self.v[k] = self.beta2 * self.v[k] + (1 - self.beta2) * g * g
            m_hat = self.m[k] / (1 - self.beta1 ** self.t)
            v_hat = self.v[k] / (1 - self.beta2 ** self.t)
            out[k] = (p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(p.dtype)
        return out


def _augment(clip: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
    shift = int(rng.integers(0, max_shift + 1))
    out = np.zeros_like(clip)
    out[: clip.size - shift] = clip[shift:]  # move the keyword up to max_shift earlier
    out *= 10 ** rng.uniform(-0.25, 0.25)
    out += rng.normal(0.0, 10 ** rng.uniform(-4.0, -2.7), clip.size).astype(np.float32)
    return out


def _prepare_out_dir(out_dir: Path, model_dir: Path, overwrite: bool,
                     inputs: Sequence[Path]) -> Path:
    if out_dir.resolve() == model_dir.resolve():
        raise EnrollmentError(f"{out_dir}: is the original model folder; enrollment never "
                              "modifies it, choose a new --out folder")
    return check_target(out_dir, overwrite=overwrite, keep=[model_dir, *inputs],
                        what="model folder", flag="--overwrite (overwrite=True)",
                        error=EnrollmentError)


def enroll(model_dir: str | os.PathLike[str], positives_dir: str | os.PathLike[str],
           negatives_dir: str | os.PathLike[str] | None = None, *,
           out_dir: str | os.PathLike[str], keyword: str | None = None, backend: str = "auto",
           epochs: int = 30, learning_rate: float | None = None, l2_to_base: float = 0.01,
           val_fraction: float = 0.25, generated_negatives: int = 48, tail_s: float = 0.1,
           seed: int = 0, overwrite: bool = False, allow_unrecognised: bool = False,
           on_epoch: Callable[[int, float], None] | None = None) -> EnrollResult:
    """Fine-tune a model folder's weights on the user's recordings; write a new folder.

    Args:
        model_dir: the model folder to start from (only read).
        positives_dir: recordings of the keyword (WAV; FLAC/OGG with soundfile), any rate.
        negatives_dir: optional recordings without the keyword (room noise, other speech).
        out_dir: the new model folder; must not exist unless ``overwrite``.
        keyword: which keyword the clips say; optional for single-keyword models.
        backend: ``"onnx"``, ``"tflite"`` or ``"auto"`` for both the training step and the
            validation detector.
        epochs, learning_rate, l2_to_base: Adam epochs, step size (``None``: the manifest's
            ``train_step.learning_rate``) and the pull towards the original weights.
        val_fraction: share of clips held out for validation (at least one).
        generated_negatives: noise / silence clips generated for training (and half as many
            again, differently seeded, for validation).
        tail_s: where the keyword ends, before the end of each clip.
        seed: seeds the split, the augmentation and the generated negatives.
        overwrite: replace an existing ``out_dir`` (only a model folder holding none of the
            inputs).
        allow_unrecognised: enrol even when the base model scores the recordings near zero
            (median below :data:`MIN_BASE_SCORE`), which usually means they say another phrase.
        on_epoch: optional callback ``(epoch, mean_loss)``.

    Returns the :class:`EnrollResult`; check ``accepted`` before switching to the new model.
    """
    started = time.monotonic()
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    manifest = load_manifest(model_dir)
    spec = manifest.train_step
    if spec is None:
        raise EnrollmentError(f"{model_dir / MANIFEST_NAME}: has no train_step; this model "
                              "cannot be fine-tuned on the device: re-export it with its "
                              "training-step graphs")
    if keyword is None:
        if len(manifest.keywords) != 1:
            raise EnrollmentError(f"{model_dir}: detects {list(manifest.keywords)}; say which "
                                  "keyword the clips contain (keyword=..., CLI: --keyword)")
        keyword = manifest.keywords[0]
    if keyword not in manifest.keywords:
        raise EnrollmentError(f"{keyword!r} is not a keyword of {model_dir}; use one of "
                              f"{list(manifest.keywords)}")
    if learning_rate is None:
        learning_rate = spec.learning_rate
    if epochs < 1 or not 0 < val_fraction < 1 or not learning_rate > 0:
        raise EnrollmentError(f"epochs ({epochs}) must be >= 1, val_fraction ({val_fraction}) "
                              f"in (0, 1) and learning_rate ({learning_rate}) positive")
    clip_folders = [Path(positives_dir)] + ([] if negatives_dir is None else [Path(negatives_dir)])
    _prepare_out_dir(out_dir, model_dir, overwrite, clip_folders)
    label = float(manifest.class_names.index(keyword))
    clip_samples, batch = spec.clip_samples, spec.batch_size
    rng = np.random.default_rng(seed)

    # data
    positives, skipped, recordings = _load_positives(Path(positives_dir), manifest,
                                                     clip_samples, tail_s)
    if len(positives) < MIN_POSITIVES:
        detail = ("; skipped: " + "; ".join(skipped)) if skipped else ""
        raise EnrollmentError(
            f"{positives_dir}: {len(positives)} usable keyword clip(s), need at least "
            f"{MIN_POSITIVES} (some are held out to check the result){detail}. Record a few "
            f"more clips of {keyword!r} as WAV files")
    _check_phrase(model_dir, backend, keyword, recordings, positives_dir, allow_unrecognised)
    del recordings
    train_pos, val_pos = _split(positives, val_fraction, rng, minimum=1)
    user_neg: list[np.ndarray] = []
    if negatives_dir is not None:
        user_neg, bad = _load_negative_windows(Path(negatives_dir), manifest, clip_samples)
        skipped += bad
    stored = _stored_negatives(model_dir, clip_samples)
    train_user, val_user = _split(user_neg, val_fraction, rng, minimum=1)
    train_stored, val_stored = _split(stored, 0.5, rng, minimum=1)
    train_neg = (train_user + train_stored
                 + _generated_negatives(rng, generated_negatives, clip_samples))
    val_neg = (val_user + val_stored
               + _generated_negatives(np.random.default_rng(seed + 1),
                                      max(6, generated_negatives // 2), clip_samples))

    if not train_neg:
        raise EnrollmentError("no negative clips to train with: pass negatives_dir or keep "
                              "generated_negatives > 0")

    # the training-step graph
    fmt = resolve_backend(backend, spec.graphs, where=f"{model_dir} train_step")
    weights = load_weights(model_dir, manifest)
    missing = [n for n in spec.weight_names if n not in weights]
    if missing:
        raise ModelError(f"{model_dir / MANIFEST_NAME}: train_step.weight_names {missing} are "
                         f"not weight inputs of the model ({sorted(weights)}); re-export it")
    base = {n: weights[n].copy() for n in spec.weight_names}
    inputs = ([TensorSpec(name=n, shape=base[n].shape, role="weight") for n in spec.weight_names]
              + [TensorSpec(name="audio", shape=(batch, clip_samples), role="audio"),
                 TensorSpec(name="labels", shape=(batch,), role="state")])
    graph = model_file(model_dir, spec.graphs[fmt], field_name=f"train_step.graphs.{fmt}")
    step_graph = open_backend(fmt, graph, inputs=inputs,
                              n_outputs=1 + len(spec.weight_names), by_name=False)
    logger.info("enrolling %r: %d+%d positive, %d+%d negative clips, %s backend", keyword,
                len(train_pos), len(val_pos), len(train_neg), len(val_neg), fmt)

    params = {n: v.copy() for n, v in base.items()}
    adam = _Adam(params, learning_rate)
    n_pos = batch // 2
    steps_per_epoch = max(1, -(-(len(train_pos) + len(train_neg)) // batch))
    max_shift = int(0.1 * manifest.sample_rate_hz)
    losses: list[float] = []
    try:
        for epoch in range(epochs):
            epoch_losses = []
            for _ in range(steps_per_epoch):
                pi = rng.integers(0, len(train_pos), n_pos)
                ni = rng.integers(0, len(train_neg), batch - n_pos)
                audio = np.stack([_augment(train_pos[i], rng, max_shift) for i in pi]
                                 + [train_neg[i] * np.float32(10 ** rng.uniform(-0.3, 0.3))
                                    for i in ni]).astype(np.float32)
                labels = np.array([label] * n_pos + [0.0] * (batch - n_pos), dtype=np.float32)
                outs = step_graph.run([params[n] for n in spec.weight_names] + [audio, labels])
                loss = float(np.asarray(outs[0]).reshape(()))
                grads = {n: np.asarray(g, dtype=np.float64).reshape(params[n].shape)
                         + l2_to_base * (params[n] - base[n])
                         for n, g in zip(spec.weight_names, outs[1:])}
                if not np.isfinite(loss) or not all(np.isfinite(g).all() for g in grads.values()):
                    raise EnrollmentError(f"training diverged at epoch {epoch + 1} (loss "
                                          f"{loss}); lower learning_rate (now {learning_rate})")
                params = adam.step(params, grads)
                epoch_losses.append(loss)
            losses.append(float(np.mean(epoch_losses)))
            logger.debug("epoch %d: loss %.4f", epoch + 1, losses[-1])
            if on_epoch is not None:
                on_epoch(epoch + 1, losses[-1])
    finally:
        step_graph.close()

    # build the new folder next to out_dir, validate it, then move it into place
    before = _evaluate(model_dir, backend, keyword, val_pos, val_neg)
    tmp = make_temp_dir(out_dir)
    try:
        _copy_model(model_dir, tmp, skip={manifest.weights_file, MANIFEST_NAME})
        new_weights = dict(weights)
        new_weights.update(params)
        savez: Any = np.savez  # numpy's stub types **kwds as its own keyword arguments
        savez(tmp / manifest.weights_file, **new_weights)
        record: dict[str, Any] = {
            "base_model": str(model_dir.resolve()), "base_version": manifest.version,
            "keyword": keyword, "seed": seed, "epochs": epochs, "backend": fmt,
            "learning_rate": learning_rate,
            "train_positives": len(train_pos), "val_positives": len(val_pos),
            "train_negatives": len(train_neg), "val_negatives": len(val_neg),
            "accepted": None,
        }
        provenance = dict(manifest.provenance)
        provenance["enrollment"] = record
        new_manifest = replace(manifest, version=f"{manifest.version}+enrolled",
                               provenance=provenance)
        save_manifest(new_manifest, tmp)
        after = _evaluate(tmp, backend, keyword, val_pos, val_neg)
        accepted = after[0] >= before[0] and after[2] <= before[2]
        record.update({
            "accepted": accepted,
            "validation": {"positive_score_before": before[0], "positive_score_after": after[0],
                           "recall_before": before[1], "recall_after": after[1],
                           "false_accepts_before": before[2], "false_accepts_after": after[2],
                           "threshold": before[3]},
            "note": ("validated at least as well as the base model" if accepted else
                     "validation got worse than the base model: keep the base model as the "
                     "default"),
        })
        save_manifest(replace(new_manifest, provenance=provenance), tmp)
        apply_umask(tmp)
        _prepare_out_dir(out_dir, model_dir, overwrite, clip_folders)  # again: time has passed
        swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result = EnrollResult(
        out_dir=out_dir, base_dir=model_dir, keyword=keyword, backend=fmt, accepted=accepted,
        positive_score_before=before[0], positive_score_after=after[0],
        recall_before=before[1], recall_after=after[1], false_accepts_before=before[2],
        false_accepts_after=after[2], threshold=before[3], n_train_positives=len(train_pos),
        n_val_positives=len(val_pos), n_train_negatives=len(train_neg),
        n_val_negatives=len(val_neg), epochs=epochs, losses=tuple(losses),
        skipped=tuple(skipped), seconds=time.monotonic() - started)
    (logger.info if accepted else logger.warning)("%s: %s", out_dir, result.summary)
    return result


def _copy_model(src: Path, dst: Path, skip: set[str]) -> None:
    """Copy the model folder's files and folders; symbolic links are not followed (the
    folder's own files are all a model needs)."""
    for item in src.iterdir():
        if item.name in skip:
            continue
        if item.is_symlink():
            logger.warning("%s: symbolic link not copied into the enrolled model", item)
        elif item.is_dir():
            shutil.copytree(item, dst / item.name, symlinks=True)
        else:
            shutil.copy2(item, dst / item.name)
