"""The engine tier's local Kubernetes control plane (beside tools/servers/, which runs the data path's servers)."""
