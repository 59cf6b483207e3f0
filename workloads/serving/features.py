"""Feature lookup for entity-keyed requests, through the platform's Feast feature server.

The model server asks the feature server (`POST /get-online-features`, full feature names) for
the feature service its model was trained with, so it needs no registry or Redis credentials of
its own. Feast 0.67's Redis store answers an unknown or expired entity with nulls marked PRESENT,
so statuses cannot tell absence; instead an entity is missing from a feature view when every
feature of that view is null for it. That covers an unknown entity, an expired Redis key and a row
past the view's TTL alike; a view whose features may all legitimately be null at once would need
a never-null feature (a timestamp, say) for this rule. Missing entities are refused (404) by name
rather than scored on NaNs.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
import requests

from workloads.serving.errors import FeatureStoreRefusedError, FeatureStoreUnavailableError, MissingEntitiesError

SEPARATOR = "__"  # Feast's full feature names are <view>__<feature>
# The feature server's answers a retry may fix; its other 4xx refuse the request itself. Keys are
# checked before the lookup (entities.py), so a 500 is the server's or Redis' failure: 503.
RETRYABLE_STATUSES = (408, 429)


def missing_entities(frame: pd.DataFrame, entity_keys: tuple[str, ...]) -> list[str]:
    """One message per entity row with a feature view that has no value at all for it."""
    views: dict[str, list[str]] = defaultdict(list)
    for column in frame.columns:
        if SEPARATOR in column:
            views[column.split(SEPARATOR, 1)[0]].append(column)
    absent = pd.DataFrame({view: frame[columns].isna().all(axis=1) for view, columns in sorted(views.items())})
    problems = []
    for index in absent.index[absent.any(axis=1)]:
        entity = ", ".join(f"{key}={frame.at[index, key]}" for key in entity_keys)
        missing = ", ".join(view for view in absent.columns if absent.at[index, view])
        problems.append(f"{entity} has no current features in {missing} (unknown, expired or past the view's TTL)")
    return problems


class FeatureLookup:
    """One HTTP session per process to the feature server at `url`."""

    def __init__(self, url: str, timeout_seconds: float = 5.0):
        self.url = url.rstrip("/")
        self.timeout = timeout_seconds
        self.session = requests.Session()

    def online_features(self, feature_service: str, entities: pd.DataFrame) -> pd.DataFrame:
        """The service's features for each entity row, columns `<view>__<feature>` plus the keys."""
        body = {"feature_service": feature_service, "full_feature_names": True,
                "entities": {key: entities[key].tolist() for key in entities.columns}}
        try:
            response = self.session.post(f"{self.url}/get-online-features", json=body, timeout=self.timeout)
        except requests.RequestException as error:
            raise FeatureStoreUnavailableError(f"feature server {self.url} unreachable: {error}") from None
        status = response.status_code
        if 400 <= status < 500 and status not in RETRYABLE_STATUSES:
            raise FeatureStoreRefusedError(f"the feature server refused the lookup ({status}): {response.text[:300]}")
        if status != 200:
            raise FeatureStoreUnavailableError(f"feature server {self.url} answered {status}: {response.text[:300]}")
        try:
            payload = response.json()
        except ValueError:
            raise FeatureStoreUnavailableError(f"feature server {self.url} answered 200 without JSON") from None
        names, results = payload["metadata"]["feature_names"], payload["results"]
        return pd.DataFrame({name: result["values"] for name, result in zip(names, results, strict=True)})

    def features_for(self, feature_service: str, entities: pd.DataFrame, entity_keys: tuple[str, ...],
                     columns: list[str]) -> pd.DataFrame:
        """The model's input columns for each entity row; MissingEntitiesError names the absent."""
        online = self.online_features(feature_service, entities)
        problems = missing_entities(online, entity_keys)
        if problems:
            raise MissingEntitiesError(problems)
        renamed = online.rename(columns=lambda c: c.split(SEPARATOR, 1)[1] if SEPARATOR in c else c)
        return renamed[columns]
