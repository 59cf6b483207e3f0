"""Where the platform runs: stack settings, the Kubernetes provider, the Pulumi program."""
