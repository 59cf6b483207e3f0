"""Validation helpers shared by the component argument dataclasses.

Components validate their own arguments (so they are safe to use from any program); the stack
settings loader maps an `ArgError`'s field to the config key the user wrote, so a bad stack value
is reported under the key's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from platform_components.quantities import parse_quantity


class ArgError(ValueError):
    """A component argument is invalid. `field` is the dataclass field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field} {message}")
        self.field = field
        self.message = message


def require_min(field: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise ArgError(field, f"must be >= {minimum}, got {value}")


def require_one_of(field: str, value: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ArgError(field, f"must be one of {', '.join(allowed)}, got {value!r}")


# RFC 1123 label: what Kubernetes accepts for namespace and Service names.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def require_dns_label(field: str, value: str) -> None:
    if not _DNS_LABEL.match(value):
        raise ArgError(
            field,
            f"must be a DNS label (lowercase letters, digits and '-', at most 63), got {value!r}",
        )


# RFC 1123 subdomain: what Kubernetes accepts for most object names (Secrets, ClusterIssuers).
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def require_dns_subdomain(field: str, value: str) -> None:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ArgError(field, f"must be a Kubernetes object name (lowercase letters, digits, '-' and '.'), got {value!r}")


def require_pinned_image(field: str, image: str) -> None:
    """An image reference must carry an explicit tag or digest, and never `latest`."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    if digest:
        return
    if not tag:
        raise ArgError(field, f"must pin a tag or digest, got {image!r}")
    if tag == "latest":
        raise ArgError(field, f"must not use the 'latest' tag, got {image!r}")


def require_quantity(field: str, value: str) -> None:
    """A positive Kubernetes quantity such as 250m, 512Mi or 8Gi."""
    try:
        amount = parse_quantity(value)
    except ValueError:
        raise ArgError(field, f"must be a Kubernetes quantity such as 250m, 512Mi or 8Gi, got {value!r}") from None
    if amount <= 0:
        raise ArgError(field, f"must be > 0, got {value!r}")


def require_k8s_minor_version(field: str, value: str) -> None:
    """A pinned Kubernetes minor version such as v1.34."""
    if not re.fullmatch(r"v1\.[0-9]+", value):
        raise ArgError(field, f"must be a pinned Kubernetes minor version such as v1.34, got {value!r}")


def require_cron(field: str, value: str) -> None:
    """A five-field cron expression (minute hour day month weekday), as CronJob takes it."""
    if len(value.split()) != 5:
        raise ArgError(field, f"must be a five-field cron expression, got {value!r}")

