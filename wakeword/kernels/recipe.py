"""`KernelRecipe`: every choice that turns a connectome into a kernel bank.

A recipe plus the input files fully determine a bank, so banks store their recipe and can be
regenerated exactly (``wakeword kernels --recipe recipe.json``). The JSON form is strict:
:meth:`KernelRecipe.from_dict` rejects unknown and missing keys.

The pipeline each field controls, in order (see :func:`wakeword.kernels.build.build_kernels`):

1. **Selection**: ``populations`` (exact names; empty keeps all), then the neurons are
   ordered by population and position (:func:`wakeword.connectome.nuclei.order_neurons`).
2. **Transformation** (off by default): ``p_add``/``p_reverse``/``p_invert`` pair perturbation
   and ``weight_noise_std``, both seeded by ``seed``; ``smooth_sigma > 0`` smooths and
   re-quantises the connectivity at ``smooth_threshold``.
3. **Feature rules** (off by default): ``keep_classes`` keeps neurons of those classes under the
   percentile rules ``primary_percentile``/``sensory_percentile``/``associative_percentile``.
4. **Nuclei** (off by default): ``n_nuclei > 0`` keeps only edges inside the largest nuclei
   found at ``nuclei_sigma``/``nuclei_threshold``.
5. **Kernels**: ``signed`` weights, ``orientation`` (``row`` = a neuron's outgoing synapses,
   ``column`` = its incoming ones), the tap neurons ranked by ``tap_rule``, sliced by
   ``slice_mode`` (``first`` K, or ``every`` ``slice_step``-th) to ``kernel_size`` taps;
   neurons with at least ``min_nonzeros`` non-zero taps are ranked by ``rank_by``; going down
   the ranking, a kernel whose cosine similarity to an already kept one exceeds
   ``max_cosine`` is dropped (``1.0`` drops only exact duplicates); kernels are normalised by
   ``normalisation`` and ``n_kernels`` are kept.
6. **Path**: ``path_length`` neurons from ``path_start_populations`` toward the centroid of
   ``path_centre_populations``; path neurons are always among the kept kernels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from wakeword.errors import ConfigError

__all__ = ["RECIPE_SCHEMA_VERSION", "KernelRecipe"]

RECIPE_SCHEMA_VERSION = 1

FLYWIRE_POPULATIONS = (
    "AMMC-A1", "AMMC-A2", "AMMC-B1", "AMMC-B2", "JO-A", "JO-B", "WED/IVLP auditory",
)

_CHOICES: dict[str, tuple[str, ...]] = {
    "orientation": ("row", "column"),
    "tap_rule": ("degree", "weight", "index"),
    "slice_mode": ("first", "every"),
    "rank_by": ("nonzeros", "weight"),
    "normalisation": ("l2", "max_abs", "none"),
}
_CLASSES = ("primary_sensory", "sensory", "associative", "other")
_TUPLE_FIELDS = ("populations", "keep_classes", "path_start_populations", "path_centre_populations")


@dataclass(frozen=True, kw_only=True)
class KernelRecipe:
    """Every choice of the connectome -> kernel bank pipeline (see the module docstring).

    The defaults are the shipped FlyWire auditory bank's recipe.
    """

    schema_version: int = RECIPE_SCHEMA_VERSION
    # 1. selection
    populations: tuple[str, ...] = FLYWIRE_POPULATIONS
    # 2. transformation
    seed: int = 0
    p_add: float = 0.0
    p_reverse: float = 0.0
    p_invert: float = 0.0
    weight_noise_std: float = 0.0
    smooth_sigma: float = 0.0
    smooth_threshold: float = 0.5
    # 3. feature rules
    keep_classes: tuple[str, ...] = ()
    primary_percentile: float = 90.0
    sensory_percentile: float = 75.0
    associative_percentile: float = 25.0
    # 4. nuclei
    n_nuclei: int = 0
    nuclei_sigma: float = 4.0
    nuclei_threshold: float = 0.1
    # 5. kernels
    signed: bool = True
    orientation: str = "row"
    tap_rule: str = "degree"
    kernel_size: int = 9
    slice_mode: str = "first"
    slice_step: int = 1
    min_nonzeros: int = 3
    max_cosine: float = 0.95
    rank_by: str = "nonzeros"
    normalisation: str = "l2"
    n_kernels: int = 64
    # 6. path
    path_start_populations: tuple[str, ...] = ("JO-A", "JO-B")
    path_centre_populations: tuple[str, ...] = (
        "AMMC-A1", "AMMC-A2", "AMMC-B1", "AMMC-B2", "WED/IVLP auditory",
    )
    path_length: int = 8

    def __post_init__(self) -> None:
        for name in _TUPLE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"recipe field '{name}' must be a list of strings, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        if self.schema_version != RECIPE_SCHEMA_VERSION:
            raise ConfigError(
                f"recipe schema_version is {self.schema_version} but this version of wakeword "
                f"reads {RECIPE_SCHEMA_VERSION}; regenerate the recipe with "
                "`wakeword kernels --print-recipe`"
            )
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ConfigError(
                    f"recipe field '{name}' is {getattr(self, name)!r}; choose one of "
                    f"{', '.join(choices)}"
                )
        for name in ("p_add", "p_reverse", "p_invert"):
            _check_range(name, getattr(self, name), 0.0, 1.0)
        _check_range("weight_noise_std", self.weight_noise_std, 0.0, math.inf)
        _check_range("smooth_sigma", self.smooth_sigma, 0.0, math.inf)
        _check_range("smooth_threshold", self.smooth_threshold, 0.0, 1.0, upper_open=True)
        for name in ("primary_percentile", "sensory_percentile", "associative_percentile"):
            _check_range(name, getattr(self, name), 0.0, 100.0)
        if self.associative_percentile > self.sensory_percentile:
            raise ConfigError(
                "recipe field 'associative_percentile' must not exceed 'sensory_percentile'"
            )
        bad = [c for c in self.keep_classes if c not in _CLASSES]
        if bad:
            raise ConfigError(
                f"recipe field 'keep_classes' has unknown class(es) {bad}; use "
                f"{', '.join(_CLASSES)}"
            )
        _check_int("seed", self.seed, 0)
        _check_int("n_nuclei", self.n_nuclei, 0)
        _check_range("nuclei_sigma", self.nuclei_sigma, 0.0, math.inf, lower_open=True)
        _check_range("nuclei_threshold", self.nuclei_threshold, 0.0, 1.0, upper_open=True)
        if not isinstance(self.signed, bool):
            raise ConfigError(f"recipe field 'signed' must be true or false, got {self.signed!r}")
        _check_int("kernel_size", self.kernel_size, 1)
        _check_int("slice_step", self.slice_step, 1)
        if self.slice_mode == "first" and self.slice_step != 1:
            raise ConfigError(
                f"recipe field 'slice_step' is {self.slice_step} but slice_mode is 'first'; "
                "set slice_mode to 'every' or slice_step to 1"
            )
        _check_int("min_nonzeros", self.min_nonzeros, 1)
        if self.min_nonzeros > self.kernel_size:
            raise ConfigError(
                f"recipe field 'min_nonzeros' ({self.min_nonzeros}) exceeds kernel_size "
                f"({self.kernel_size})"
            )
        _check_range("max_cosine", self.max_cosine, -1.0, 1.0, lower_open=True)
        _check_int("n_kernels", self.n_kernels, 1)
        _check_int("path_length", self.path_length, 1)
        if self.path_length > self.n_kernels:
            raise ConfigError(
                f"recipe field 'path_length' ({self.path_length}) exceeds n_kernels "
                f"({self.n_kernels}); path neurons must be among the kernels"
            )
        if not self.path_start_populations:
            raise ConfigError("recipe field 'path_start_populations' must name a population")
        if not self.path_centre_populations:
            raise ConfigError("recipe field 'path_centre_populations' must name a population")

    @property
    def perturbs(self) -> bool:
        """True when any random perturbation or weight noise is applied."""
        return (self.p_add > 0 or self.p_reverse > 0 or self.p_invert > 0
                or self.weight_noise_std > 0)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists), keys in field order."""
        data = asdict(self)
        for name in _TUPLE_FIELDS:
            data[name] = list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "recipe") -> KernelRecipe:
        """Strict inverse of :meth:`to_dict`: unknown or missing keys raise ConfigError."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a JSON object, got {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names))
        missing = [name for name in names if name not in data]
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(unknown)}; remove them (valid keys: "
                f"{', '.join(names)})"
            )
        if missing:
            raise ConfigError(
                f"{where}: missing key(s) {', '.join(missing)}; every field must be given, "
                "start from `wakeword kernels --print-recipe`"
            )
        values = dict(data)
        for name in _TUPLE_FIELDS:
            if not isinstance(values[name], list):
                raise ConfigError(f"{where}: '{name}' must be a list of strings")
            values[name] = tuple(values[name])
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, 2-space indent, trailing newline)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, where: str = "recipe") -> KernelRecipe:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not valid JSON ({exc})") from None
        return cls.from_dict(data, where=where)

    @classmethod
    def load(cls, path: str | Path) -> KernelRecipe:
        """Read a recipe JSON file (strict)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: recipe file not found")
        return cls.from_json(path.read_text(encoding="utf-8"), where=str(path))

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_json` to ``path``."""
        Path(path).write_text(self.to_json(), encoding="utf-8")


def _check_range(
    name: str, value: Any, low: float, high: float, *,
    lower_open: bool = False, upper_open: bool = False,
) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if lower_open else value >= low) and (
            value < high if upper_open else value <= high)
    if not ok:
        lo = "(" if lower_open else "["
        hi = ")" if upper_open else "]"
        raise ConfigError(
            f"recipe field '{name}' is {value!r}; it must be in {lo}{low}, {high}{hi}"
        )


def _check_int(name: str, value: Any, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"recipe field '{name}' is {value!r}; it must be an integer >= {low}")
