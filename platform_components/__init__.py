"""Pulumi ComponentResources that run the MLOps platform on a Kubernetes cluster.

Each module holds one component plus the pure functions that build its Kubernetes specs and
container command lines; the components only register resources.
"""
