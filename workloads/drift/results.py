"""What a comparison produces: per test, per feature and for the whole dataset.

Every float here is finite or None ("undefined"); the JSON writer relies on it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from workloads.drift.errors import Problem

NOT_TESTED = "not tested"


@dataclass
class TestOutcome:
    test: str  # ks | levene | chi2 | missing_share | nonfinite_share | mmd
    statistic: float | None
    p_value: float | None
    p_adjusted: float | None = None
    drifted: bool = False
    mode: str = ""
    applicable: bool = True
    reason: str = ""  # why the test is not applicable

    @classmethod
    def not_applicable(cls, test: str, reason: str) -> TestOutcome:
        return cls(test, None, None, applicable=False, reason=reason)

    def __post_init__(self) -> None:
        if self.applicable and not (_finite(self.statistic) and _finite(self.p_value)):
            self.applicable, self.reason = False, f"undefined for these data (statistic {self.statistic}, p {self.p_value})"
            self.statistic = self.p_value = None


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _share(count: int, rows: int) -> float:
    return count / rows if rows else 0.0


def finite_or_none(value: float | None) -> float | None:
    return float(value) if _finite(value) else None


@dataclass
class FeatureResult:
    name: str
    kind: str  # numeric | categorical
    tests: list[TestOutcome]
    psi: float | None
    missing_reference: int
    missing_current: int
    rows_reference: int
    rows_current: int
    nonfinite_reference: int = 0
    nonfinite_current: int = 0
    bins: list[str] = field(default_factory=list)
    reference_shares: list[float] = field(default_factory=list)
    current_shares: list[float] = field(default_factory=list)
    change: dict = field(default_factory=dict)  # direction and size: see features.py
    unseen_categories: list[str] = field(default_factory=list)
    status: str = "tested"  # or NOT_TESTED, with the reason
    reason: str = ""
    drifted: bool = False
    drifted_by: list[str] = field(default_factory=list)  # the tests that rejected

    missing_share_reference = property(lambda self: _share(self.missing_reference, self.rows_reference))
    missing_share_current = property(lambda self: _share(self.missing_current, self.rows_current))
    nonfinite_share_reference = property(lambda self: _share(self.nonfinite_reference, self.rows_reference))
    nonfinite_share_current = property(lambda self: _share(self.nonfinite_current, self.rows_current))

    def smallest_adjusted_p(self) -> float:
        return min((t.p_adjusted for t in self.tests if t.p_adjusted is not None), default=1.0)

    def to_dict(self) -> dict:
        shares = {f"{what}_share_{side}": getattr(self, f"{what}_share_{side}")
                  for what in ("missing", "nonfinite") for side in ("reference", "current")}
        return {**asdict(self), **shares}


@dataclass
class DriftReport:
    settings: dict
    rows_reference: int
    rows_current: int
    features: list[FeatureResult]  # drifted first, strongest evidence first
    multivariate: TestOutcome | None
    dataset_drift: bool = False
    share_drifted: float = 0.0
    drifted_features: list[str] = field(default_factory=list)  # in reference column order
    ignored_columns: list[str] = field(default_factory=list)  # in the current data only
    excluded_columns: list[dict] = field(default_factory=list)  # {"name", "reason"}: not features
    # {"name", "reason"}: features the reference gives nothing to test against (no value at all);
    # reported, not a problem: the rest is decided without them.
    untested_columns: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # bad input met; the first sets the exit code
    family_size: int = 0  # tests in the multiple-testing family
    generated_at: str = ""  # UTC, ISO 8601
    seconds: float = 0.0
    trend: list[dict] | None = None  # previous intervals of the model (the job adds them)

    @property
    def exit_code(self) -> int:
        return self.problems[0].exit_code if self.problems else 0

    def feature(self, name: str) -> FeatureResult:
        return next(f for f in self.features if f.name == name)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["features"] = [f.to_dict() for f in self.features]
        data["exit_code"] = self.exit_code
        return data
