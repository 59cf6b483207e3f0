"""Where the platform's credentials come from (`credentialSource`): every password, S3 key and
session key of every component is made here, by name.

- `generated` (default): pulumi-random makes each one at the first `up` and keeps it, encrypted,
  in the stack's state; it never changes unless its resource is replaced.
- `config`: each one is the stack's secret config value `credentials.<name>`, set by whoever owns
  the secrets (a vault, a CI secret store): `pulumi config set --secret --path 'credentials.<name>' ...`.
  No pulumi-random provider is needed. `python -m tools.credentials --stack <stack>` lists the
  names a stack needs. A missing one fails the preview naming its key.

Either way the value is a Pulumi secret: encrypted in state and masked in output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_random as random

from platform_components.validation import ArgError

GENERATED = "generated"
FROM_CONFIG = "config"
SOURCES = (GENERATED, FROM_CONFIG)
CONFIG_KEY = "credentials"  # the setting holding the values in `config` mode


@dataclass(frozen=True)
class Credentials:
    """Makes or reads the named credentials. `values` (name -> value) is read only in `config` mode."""

    source: str = GENERATED
    values: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ArgError("credential_source", f"must be one of {', '.join(SOURCES)}, got {self.source!r}")

    def password(self, name: str, length: int, parent: pulumi.Resource) -> pulumi.Output[str]:
        """A secret of `length` letters and digits (no symbols: it goes into URLs and ini files)."""
        if self.source == FROM_CONFIG:
            return pulumi.Output.secret(self._configured(name))
        generated = random.RandomPassword(name, length=length, special=False, opts=pulumi.ResourceOptions(parent=parent))
        return pulumi.Output.secret(generated.result)

    def access_key_id(self, name: str, parent: pulumi.Resource) -> pulumi.Output[str]:
        """An S3 access key ID: 20 upper-case letters and digits, like AWS's. Not a secret itself."""
        if self.source == FROM_CONFIG:
            return pulumi.Output.from_input(self._configured(name))
        generated = random.RandomString(name, length=20, special=False, upper=True, lower=False,
                                        opts=pulumi.ResourceOptions(parent=parent))
        return generated.result

    def _configured(self, name: str) -> str:
        value = self.values.get(name)
        if not isinstance(value, str) or not value:
            raise ArgError(
                f"{CONFIG_KEY}.{name}",
                f"is not set, and with credentialSource `config` every credential comes from the stack's secret "
                f"config: `pulumi config set --secret --path '{CONFIG_KEY}.{name}' <value>` "
                f"(`python -m tools.credentials --stack <stack>` lists every name the stack needs)")
        return value
