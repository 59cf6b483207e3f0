"""MLflow tag names the workloads share: what a training run records for serving and monitoring."""

# On a training run: the Feast feature service the model was trained with, and its entity keys
# (how the model server looks the inputs up online, and how the drift job joins late labels).
FEATURE_SERVICE_TAG = "feast.feature_service"
ENTITY_KEYS_TAG = "feast.entity_keys"
