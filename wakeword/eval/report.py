"""The evaluation report: a frozen record of one keyword's DET curve and operating points."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from wakeword.errors import DataError
from wakeword.eval.metrics import DetCurve, OperatingPoint, operating_point

__all__ = ["REPORT_SCHEMA_VERSION", "TARGET_FA_PER_HOUR", "EvalReport"]

REPORT_SCHEMA_VERSION = 1
# The false-accept rates every report states its operating points at.
TARGET_FA_PER_HOUR: tuple[float, float] = (1.0, 0.5)

_FIELDS = (
    "schema_version", "keyword", "n_positives", "negative_hours", "step_s", "refractory_s",
    "at_1_fa_per_hour", "at_0_5_fa_per_hour", "curve",
)


def _point(data: Any, where: str) -> OperatingPoint | None:
    if data is None:
        return None
    if not isinstance(data, dict) or set(data) != {
        "threshold", "false_reject_rate", "false_accepts_per_hour"
    }:
        raise DataError(f"{where}: expected null or an object with threshold, false_reject_rate "
                        f"and false_accepts_per_hour, found {data!r}; re-run `wakeword eval`")
    return OperatingPoint(**{k: float(v) for k, v in data.items()})


@dataclass(frozen=True, kw_only=True)
class EvalReport:
    """What ``wakeword eval`` measured for one keyword.

    Fields:
        keyword: the evaluated keyword.
        n_positives: positive clips scored.
        negative_hours: hours of negative audio scored.
        step_s: seconds of audio per score step.
        refractory_s: accepts closer than this to the previous accept were merged.
        at_1_fa_per_hour / at_0_5_fa_per_hour: the lowest-FRR operating point with at most 1.0
            (0.5) false accepts per hour, or ``None`` when no threshold of the curve gets there.
        curve: the DET curve.
    """

    keyword: str
    n_positives: int
    negative_hours: float
    step_s: float
    refractory_s: float
    at_1_fa_per_hour: OperatingPoint | None
    at_0_5_fa_per_hour: OperatingPoint | None
    curve: DetCurve
    schema_version: int = REPORT_SCHEMA_VERSION

    @classmethod
    def from_curve(
        cls, curve: DetCurve, *, keyword: str, n_positives: int, negative_hours: float,
        step_s: float, refractory_s: float,
    ) -> EvalReport:
        """Build a report, reading the operating points at 1.0 and 0.5 FA/h off ``curve``."""
        return cls(
            keyword=keyword,
            n_positives=n_positives,
            negative_hours=negative_hours,
            step_s=step_s,
            refractory_s=refractory_s,
            at_1_fa_per_hour=operating_point(curve, TARGET_FA_PER_HOUR[0]),
            at_0_5_fa_per_hour=operating_point(curve, TARGET_FA_PER_HOUR[1]),
            curve=curve,
        )

    @property
    def operating_points(self) -> dict[float, OperatingPoint | None]:
        """Target false accepts per hour -> operating point (``None``: not reached)."""
        return {
            TARGET_FA_PER_HOUR[0]: self.at_1_fa_per_hour,
            TARGET_FA_PER_HOUR[1]: self.at_0_5_fa_per_hour,
        }

    # -- (de)serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "keyword": self.keyword,
            "n_positives": self.n_positives,
            "negative_hours": self.negative_hours,
            "step_s": self.step_s,
            "refractory_s": self.refractory_s,
            "at_1_fa_per_hour": None if self.at_1_fa_per_hour is None
            else self.at_1_fa_per_hour.to_dict(),
            "at_0_5_fa_per_hour": None if self.at_0_5_fa_per_hour is None
            else self.at_0_5_fa_per_hour.to_dict(),
            "curve": self.curve.to_dict(),
        }

    def to_json(self) -> str:
        """The report as indented JSON (floats round-trip exactly)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "report.json") -> EvalReport:
        """Rebuild a report; an unknown or missing key, or another schema version, is an error."""
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected a JSON object; re-run `wakeword eval`")
        unknown = sorted(set(data) - set(_FIELDS))
        missing = sorted(set(_FIELDS) - set(data))
        if unknown or missing:
            raise DataError(f"{where}: unknown field(s) {unknown}, missing field(s) {missing}; "
                            "it was not written by this version of `wakeword eval`: re-run it")
        if data["schema_version"] != REPORT_SCHEMA_VERSION:
            raise DataError(f"{where}: schema_version is {data['schema_version']!r} but this "
                            f"version reads {REPORT_SCHEMA_VERSION}; re-run `wakeword eval`")
        curve = data["curve"]
        if not isinstance(curve, dict) or set(curve) != {
            "thresholds", "false_reject_rate", "false_accepts_per_hour"
        }:
            raise DataError(f"{where}: curve must hold thresholds, false_reject_rate and "
                            "false_accepts_per_hour; re-run `wakeword eval`")
        return cls(
            keyword=str(data["keyword"]),
            n_positives=int(data["n_positives"]),
            negative_hours=float(data["negative_hours"]),
            step_s=float(data["step_s"]),
            refractory_s=float(data["refractory_s"]),
            at_1_fa_per_hour=_point(data["at_1_fa_per_hour"], f"{where}: at_1_fa_per_hour"),
            at_0_5_fa_per_hour=_point(data["at_0_5_fa_per_hour"], f"{where}: at_0_5_fa_per_hour"),
            curve=DetCurve(**curve),
        )

    @classmethod
    def from_json(cls, text: str, where: str = "report.json") -> EvalReport:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc}); re-run `wakeword eval`") from exc
        return cls.from_dict(data, where)

    def __post_init__(self) -> None:
        if self.n_positives < 1:
            raise DataError(f"EvalReport.n_positives is {self.n_positives}; a report needs at "
                            "least one positive clip")
        if not (math.isfinite(self.negative_hours) and self.negative_hours > 0):
            raise DataError(f"EvalReport.negative_hours is {self.negative_hours}; it must be > 0")
