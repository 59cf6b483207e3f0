"""MLflow tag names the workloads share: what a training run records for serving and monitoring."""

# On a training run: the Feast feature service the model was trained with, and its entity keys
# (how the model server looks the inputs up online, and how the drift job joins late labels).
FEATURE_SERVICE_TAG = "feast.feature_service"
ENTITY_KEYS_TAG = "feast.entity_keys"
# On a training run: each entity key's Feast value type, `customer_id:INT64,region:STRING`, so
# a model server checks keys before the lookup and logs them with their type.
ENTITY_KEY_TYPES_TAG = "feast.entity_key_types"


def entity_key_types(tag: str) -> dict[str, str]:
    """`customer_id:INT64,...` -> {"customer_id": "INT64", ...} (entries without a type are left out)."""
    pairs = (entry.split(":", 1) for entry in tag.split(",") if ":" in entry)
    return {key.strip(): kind.strip().upper() for key, kind in pairs if key.strip() and kind.strip()}
