"""Code that runs inside the cluster from the project's workloads image (workloads/Dockerfile)."""
