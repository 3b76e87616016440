#!/usr/bin/env bash
# Device-wheel check, as CI runs it: build the wheel from this tree (models packed from
# models/), install it with [onnx,litert] into a fresh virtualenv, check that neither torch nor
# scipy is importable there, then run the CLI and the Python API from outside the repository:
# --version, detect (file and stdin), Detector.from_pretrained, demo, enroll, and a host-only
# command's missing-extra message. Prints the wheel's size; fails above 25 MB.
#
#   bash scripts/wheel_check.sh        (or: make wheel-check)
# Env: PY (python for the new venv, default python3), KEEP=1 keeps the work folder.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-python3}
MAX_WHEEL_MB=25
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wakeword-wheel-check.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "work folder: $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
start=$(date +%s)
step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "build the wheel from a copy of the tree"
mkdir -p "$WORK/src"
tar -C "$REPO" -c --exclude=./.venv --exclude=./.git --exclude=./build --exclude=./dist \
    --exclude=./runs --exclude=./.cache --exclude=./demo_out --exclude='*.egg-info' \
    --exclude=__pycache__ --exclude=.pytest_cache --exclude=.ruff_cache . | tar -C "$WORK/src" -x
"$PY" -m pip wheel -q --no-deps -w "$WORK/dist" "$WORK/src"
WHEEL=$(ls "$WORK"/dist/wakeword-*.whl)
bytes=$(stat -c %s "$WHEEL")
"$PY" - "$WHEEL" <<'PYEOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
models = sorted({n.split("/")[2] for n in names if n.startswith("device_runtime/models/")})
count = sum(n.startswith("device_runtime/models/") for n in names)
print(f"{len(names)} files; {count} model files in device_runtime/models: {models}")
PYEOF
echo "wheel: $(basename "$WHEEL") $bytes bytes ($(awk "BEGIN{printf \"%.1f\", $bytes/1048576}") MiB)"
[ "$bytes" -le $((MAX_WHEEL_MB * 1048576)) ] || fail "the wheel is larger than $MAX_WHEEL_MB MB"

step "install it with [onnx,litert] into a fresh virtualenv"
"$PY" -m venv "$WORK/venv"
BIN="$WORK/venv/bin"
"$BIN/pip" install -q --upgrade pip
"$BIN/pip" install -q -c "$REPO/constraints.txt" "$WHEEL[onnx,litert]"
"$BIN/pip" list --format=freeze | tr '\n' ' '; echo

cd "$WORK"  # outside the repository: nothing can come from the clone
step "neither torch nor scipy is importable"
"$BIN/python" - <<'PYEOF'
import importlib.util, sys
present = [m for m in ("torch", "torchaudio", "scipy") if importlib.util.find_spec(m)]
if present:
    sys.exit(f"importable in the device install: {present}")
print("torch, torchaudio, scipy: not importable")
PYEOF

CLIP="$REPO/models/computer/example.wav"
step "wakeword --version"
"$BIN/wakeword" --version

step "wakeword detect computer $CLIP"
"$BIN/wakeword" detect computer "$CLIP" | tee "$WORK/detect.txt"
grep -q ": computer at " "$WORK/detect.txt" || fail "no detection of 'computer'"

step "wakeword detect computer - (the clip on standard input)"
"$BIN/wakeword" detect computer - < "$CLIP" | tee "$WORK/stdin.txt"
[ "$(sed 's/^-: //' "$WORK/stdin.txt")" = "$(sed "s|^$CLIP: ||" "$WORK/detect.txt")" ] \
    || fail "standard input gave other detections than the file"

step "Python: Detector.from_pretrained(\"computer\") on the same clip"
"$BIN/python" - "$CLIP" <<'PYEOF'
import sys
from device_runtime import Detector, list_pretrained
det = Detector.from_pretrained("computer")
found = det.process_file(sys.argv[1])
print("shipped:", list_pretrained(), "from", det.model_dir.parent)
print("backend", det.backend, "->", [(d.keyword, round(d.time_s, 2), round(d.score, 3)) for d in found])
assert "site-packages" in str(det.model_dir), det.model_dir
assert any(d.keyword == "computer" for d in found), "no detection"
PYEOF

step "wakeword demo"
"$BIN/wakeword" demo --out "$WORK/demo_out"

step "wakeword enroll computer (3 clips cut from the example)"
"$BIN/python" - "$CLIP" "$WORK/clips" <<'PYEOF'
import json, sys, wave
from pathlib import Path
import numpy as np
clip, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir()
span = json.loads(clip.with_suffix(".json").read_text())
with wave.open(str(clip)) as w:
    rate, audio = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2")
for i, (pad, gain) in enumerate([(0.4, 1.0), (0.5, 0.7), (0.6, 1.2)]):
    a = int((span["keyword_start_s"] - pad) * rate)
    b = int((span["keyword_end_s"] + 0.3) * rate)
    part = np.clip(audio[a:b] * gain, -32768, 32767).astype("<i2")
    with wave.open(str(out / f"clip{i}.wav"), "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate); w.writeframes(part.tobytes())
PYEOF
set +e
"$BIN/wakeword" enroll computer --positives "$WORK/clips" --out "$WORK/computer_me" --epochs 5
rc=$?
set -e
[ "$rc" -le 1 ] || fail "enroll exited $rc"
[ -f "$WORK/computer_me/manifest.json" ] || fail "enroll wrote no model"
echo "enroll exit code $rc (0 accepted, 1 validated worse); wrote $WORK/computer_me"

step "a host-only command names its extra"
set +e
"$BIN/wakeword" train --phrase computer --out "$WORK/run" 2> "$WORK/train.err"
rc=$?
set -e
cat "$WORK/train.err"
[ "$rc" = 2 ] && grep -q "pip install 'wakeword\[train\]'" "$WORK/train.err" \
    && ! grep -q Traceback "$WORK/train.err" || fail "train on a device install: exit $rc"

echo
echo "wheel check passed in $(( $(date +%s) - start )) s"
