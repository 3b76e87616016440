"""Recorded speech corpora as negatives: folders searched recursively, manifests used.

A corpus is a folder of recordings (WAV, FLAC, OGG, Opus; any rate). When it holds a
``manifest.csv`` with at least a ``path`` column (relative to the folder) and optionally
``speaker`` and ``text`` (as ``../shared/data/speech`` does), the speaker splits the corpus and
the transcript lets a phrase's own mentions be dropped when clips are served. Without a manifest
a recording's speaker is its folder.

Speakers are split by a hash of the corpus name and speaker, so a speaker is on one side only
(``val``: never trained on; used for checkpoint selection and threshold calibration) and the split
does not change when files are added.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from wakeword.data.audio_io import list_audio_files, load_audio
from wakeword.data.pools import Pool, PoolBuilder
from wakeword.errors import DataError
from wakeword.progress import progress

__all__ = ["Corpus", "corpus_signature", "find_corpora", "read_corpus", "speaker_split"]

logger = logging.getLogger(__name__)

MAX_RECORDING_S = 600.0  # a longer file is cut into pieces of this length when read


@dataclass(frozen=True)
class Corpus:
    """A folder of recorded speech: ``name`` labels its clips (``detail``)."""

    name: str
    folder: Path
    files: tuple[Path, ...]
    speakers: tuple[str, ...]
    texts: tuple[str, ...]


def speaker_split(corpus: str, speaker: str, val_fraction: float) -> str:
    """``val`` for about ``val_fraction`` of speakers (by hash), else ``train``."""
    digest = hashlib.sha256(f"{corpus}\x00{speaker}".encode()).digest()
    return "val" if int.from_bytes(digest[:4], "little") / 2**32 < val_fraction else "train"


def find_corpus(folder: str | os.PathLike[str], *, name: str | None = None) -> Corpus:
    """Index a corpus folder (recursively); :class:`DataError` if it holds no audio."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: speech folder does not exist or is not a folder; check "
                        "the path")
    name = name or folder.name
    manifest = folder / "manifest.csv"
    if manifest.is_file():
        files, speakers, texts = [], [], []
        with manifest.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if "path" not in (reader.fieldnames or []):
                raise DataError(f"{manifest}: no 'path' column (found {reader.fieldnames}); "
                                "give each recording's path relative to the folder")
            for row in reader:
                path = (folder / row["path"]).resolve()
                if folder.resolve() not in path.parents:
                    raise DataError(f"{manifest}: path {row['path']!r} leaves the folder; use "
                                    "paths inside it")
                files.append(path)
                speakers.append(row.get("speaker") or path.parent.name)
                texts.append(" ".join(str(row.get("text") or "").split()))
        if not files:
            raise DataError(f"{manifest}: the manifest lists no recordings")
        return Corpus(name, folder, tuple(files), tuple(speakers), tuple(texts))
    files = list_audio_files(folder, recursive=True)
    if not files:
        raise DataError(f"{folder}: no audio files (.wav, .flac, .ogg, .opus) in it or its "
                        "sub-folders; point to the folder that holds the recordings")
    speakers = tuple(str(p.parent.relative_to(folder)) or name for p in files)
    return Corpus(name, folder, tuple(files), speakers, ("",) * len(files))


def corpus_signature(corpus: Corpus) -> list[object]:
    """What changes a corpus's pool: its files' paths, sizes and times, speakers, texts."""
    h = hashlib.sha256()
    for path, speaker, text in zip(corpus.files, corpus.speakers, corpus.texts):
        try:
            st = path.stat()
            h.update(f"{path}\x00{st.st_size}\x00{st.st_mtime_ns}\x00{speaker}\x00{text}\n"
                     .encode())
        except OSError:
            h.update(f"{path}\x00missing\n".encode())
    return [corpus.name, str(corpus.folder), len(corpus.files), h.hexdigest()]


def read_corpus(corpus: Corpus, *, val_fraction: float, source: str = "real_speech") -> Pool:
    """Every readable recording of ``corpus`` as a pool (unreadable ones are skipped with one
    warning; :class:`DataError` if none can be read)."""
    builder = PoolBuilder()
    bad: list[str] = []
    piece = int(MAX_RECORDING_S * 16000)
    for path, speaker, text in progress(zip(corpus.files, corpus.speakers, corpus.texts),
                                        desc=f"reading {corpus.name}", total=len(corpus.files)):
        try:
            audio = load_audio(path)
        except DataError as exc:
            bad.append(f"{path.name} ({exc})")
            continue
        split = speaker_split(corpus.name, speaker, val_fraction)
        for start in range(0, audio.size, piece):
            builder.add(audio[start:start + piece], source=source,
                        detail=f"{corpus.name}:{path.relative_to(corpus.folder)}", text=text,
                        speaker=f"{corpus.name}:{speaker}", split=split)
    if bad:
        logger.warning("%s: skipped %d unreadable recording(s) of %d (first: %s)",
                       corpus.folder, len(bad), len(corpus.files), bad[0])
    if not len(builder):
        raise DataError(f"{corpus.folder}: none of its {len(corpus.files)} recordings could be "
                        "read; re-encode them as WAV or FLAC")
    return builder.build()


def find_corpora(extra: tuple[str, ...] = (), *, shared: bool = True) -> list[Corpus]:
    """The recorded-speech corpora of a build: ``../shared/data/speech`` (when ``shared`` and
    present), the installed Debian packages ``klettres-data`` and ``hedgewars-data``, and the
    ``extra`` folders."""
    from wakeword.data.recorded_speech import PACKAGES
    from wakeword.paths import shared_dir

    out = []
    base = shared_dir() if shared else None
    if base is not None and (base / "data" / "speech").is_dir():
        out.append(find_corpus(base / "data" / "speech", name="shared-speech"))
    if shared:
        for package, root in PACKAGES.items():
            if Path(root).is_dir() and list_audio_files(root, recursive=True):
                out.append(find_corpus(root, name=package))
            else:
                logger.info("%s is not installed (sudo apt-get install %s adds its recorded "
                            "speech)", package, package)
    for folder in extra:
        out.append(find_corpus(folder))
    return out
