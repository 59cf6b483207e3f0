"""The champion/challenger gate: a pure decision on two evaluations of the same holdout window.

Rules, in order (the first that applies decides):
1. the challenger's predictions must be finite;
2. its metric must reach the floor (`min_metric`);
3. with a champion trained on the same feature service, its input schema must equal the
   champion's signature (a changed service may change the inputs; the same one must not; a
   champion whose signature is unknown, because it has none or does not load, is not compared);
4. with no champion (or one that cannot be scored on the window, or cannot be loaded at all: a
   broken champion must not block its own replacement), a challenger that passed 1-3 becomes
   champion;
5. otherwise it must beat the champion by at least `margin` on the same rows (a negative margin
   accepts a challenger up to that much worse).
Both metrics come from the same held-out rows (the most recent labelled window), so the
comparison is fair; MLflow's guidance on champion/challenger aliases is followed for the names.
"""

from __future__ import annotations

from dataclasses import dataclass

PROMOTED, KEPT = "promoted", "kept"


@dataclass(frozen=True)
class Evaluation:
    """One model on the holdout window: its metric (AUC), rows, finiteness and input schema."""

    metric: float
    rows: int
    finite: bool
    schema: tuple[tuple[str, str], ...]  # (column, type) of the model's inputs
    feature_service: str | None = None
    problem: str | None = None  # why it could not be scored, when it could not


@dataclass(frozen=True)
class Decision:
    outcome: str  # PROMOTED or KEPT
    reason: str

    @property
    def promoted(self) -> bool:
        return self.outcome == PROMOTED


def schema_difference(champion: tuple[tuple[str, str], ...], challenger: tuple[tuple[str, str], ...]) -> str:
    """What differs between two input schemas, in words ('' when equal)."""
    old, new = dict(champion), dict(challenger)
    parts = []
    if missing := sorted(set(old) - set(new)):
        parts.append(f"missing {missing}")
    if added := sorted(set(new) - set(old)):
        parts.append(f"added {added}")
    if changed := sorted(c for c in set(old) & set(new) if old[c] != new[c]):
        parts.append("changed types " + ", ".join(f"{c} {old[c]} -> {new[c]}" for c in changed))
    return "; ".join(parts)


def decide(challenger: Evaluation, champion: Evaluation | None, *, min_metric: float, margin: float) -> Decision:
    if not challenger.finite:
        return Decision(KEPT, "refused: the challenger's predictions on the holdout are not all finite")
    if challenger.metric < min_metric:
        return Decision(KEPT, f"refused: challenger AUC {challenger.metric:.4f} is below the floor {min_metric:.4f}")
    if champion is None:
        return Decision(PROMOTED, f"first model: AUC {challenger.metric:.4f} reaches the floor {min_metric:.4f}")
    if challenger.feature_service == champion.feature_service and champion.schema:
        difference = schema_difference(champion.schema, challenger.schema)
        if difference:
            return Decision(KEPT, f"refused: input schema differs from the champion's signature under the same "
                                  f"feature service {challenger.feature_service}: {difference}")
    if not champion.finite:
        why = champion.problem or "its inputs are not available"
        return Decision(PROMOTED, f"the champion cannot be scored on the holdout window ({why}); challenger AUC "
                                  f"{challenger.metric:.4f} reaches the floor")
    gain = challenger.metric - champion.metric
    if gain >= margin:
        return Decision(PROMOTED, f"challenger AUC {challenger.metric:.4f} beats the champion's {champion.metric:.4f} "
                                  f"by {gain:.4f} >= margin {margin:.4f}")
    return Decision(KEPT, f"not better by the margin: challenger AUC {challenger.metric:.4f} vs champion "
                          f"{champion.metric:.4f} (gain {gain:+.4f} < {margin:.4f})")
