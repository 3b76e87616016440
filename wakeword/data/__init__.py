"""Training data for a wake phrase given as text: synthesis, negatives, augmentation, clips.

Modules, one job each:

- ``audio_io``: read/write audio files as float32 mono 16 kHz arrays;
- ``tts``: the ``Synthesizer`` protocol, espeak-ng and Kokoro;
- ``tts_cache``: synthesis requests cached on disk by content hash;
- ``negatives`` (+ ``speech_text``): near-miss phrases and everyday speech texts;
- ``noise``: coloured and recorded noise; ``augment``: reverb, SNR mixing, level, SpecAugment;
- ``placement``: trimming silence and placing speech in a clip;
- ``dataset``: ``DataConfig`` -> ``build_dataset`` -> ``ClipSet``.

Importing this package loads neither torch nor any model; they load on first use.
"""

from wakeword.data.audio_io import load_audio, load_folder, resample, save_wav
from wakeword.data.augment import Augmenter, RirBank, mix_at_snr, spec_augment
from wakeword.data.dataset import ClipSet, DataConfig, build_dataset
from wakeword.data.negatives import near_miss_phrases, speech_phrases
from wakeword.data.noise import NoiseBank, coloured_noise
from wakeword.data.tts import (
    EspeakSynthesizer,
    KokoroSynthesizer,
    Synthesizer,
    available_synthesizers,
)

__all__ = [
    "Augmenter",
    "ClipSet",
    "DataConfig",
    "EspeakSynthesizer",
    "KokoroSynthesizer",
    "NoiseBank",
    "RirBank",
    "Synthesizer",
    "available_synthesizers",
    "build_dataset",
    "coloured_noise",
    "load_audio",
    "load_folder",
    "mix_at_snr",
    "near_miss_phrases",
    "resample",
    "save_wav",
    "spec_augment",
    "speech_phrases",
]
