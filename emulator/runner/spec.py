"""What the runner reads from a stored container app (pure): the image rule and the spec.

Where it sits: ``supervisor`` reads the ARM GET JSON of a ``microsoft.app/containerapps``
resource from the store and calls ``parse_app``; the resulting frozen ``AppSpec`` (or a
``SpecError`` with a message for the user) decides whether a process runs and whether a change
needs a restart (``AppSpec.fingerprint``). Nothing here does I/O.

Image rule: the local target can run exactly one kind of container, the lab's own MCP server
(``python -m mcp_server``). A container qualifies when the last path segment of its image's
repository (registry, tag and digest removed, lower-cased), split at ``-``, ``_`` and ``.``,
contains the word ``mcp`` and ends with the word ``server`` — ``mcp-server``, ``mcp_server``,
``lab-mcp-prm-server``, ``mcp-prm-oauth-server`` (e.g. ``myacr.azurecr.io/mcp-server:3``) — or
when the container app carries the ARM tag ``prmlab-runner: mcp_server`` (an explicit opt-in for
any image name). Anything else (the ``containerapps-helloworld`` placeholder, say) is marked
Failed, never run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KIND = "microsoft.app/containerapps"
ENVIRONMENT_KIND = "microsoft.app/managedenvironments"
RUNNER_TAG = "prmlab-runner"
RUNNER_TAG_VALUE = "mcp_server"
_WORDS = re.compile(r"[-_.]")


class SpecError(ValueError):
    """The container app cannot run locally; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class AppSpec:
    key: str  # lower-cased ARM id (the store key)
    name: str
    image: str
    port: int  # the ingress port ARM allocated (``127.0.0.1:<port>``); the process listens on it
    env: tuple[tuple[str, str], ...]  # the container's env, secretRefs resolved, in spec order
    identities: tuple[tuple[str, str], ...]  # (resource id, client id) of user-assigned identities

    @property
    def fingerprint(self) -> str:
        """Changes exactly when the process must restart (image, env, identities, port)."""
        data = json.dumps(
            [self.image, self.port, list(self.env), list(self.identities)], separators=(",", ":")
        )
        return hashlib.sha256(data.encode()).hexdigest()[:16]


def repository_of(image: str) -> str:
    """``host/path/name:tag@digest`` -> ``name`` (lower-cased)."""
    ref = image.strip().split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


def is_server_image(image: str) -> bool:
    words = _WORDS.split(repository_of(image))
    return "mcp" in words and words[-1] == "server"


def port_of(fqdn: str) -> int:
    host, sep, port = fqdn.strip().rpartition(":")
    if not sep or host not in ("127.0.0.1", "localhost") or not port.isdigit():
        raise SpecError(f"ingress fqdn {fqdn!r} is not a local 127.0.0.1:<port> address")
    value = int(port)
    if not 0 < value < 65536:
        raise SpecError(f"ingress port {value} is out of range")
    return value


def parse_app(key: str, body: Mapping[str, Any]) -> AppSpec:
    """The runnable spec of a stored container app, or ``SpecError``."""
    name = str(body.get("name") or key.rsplit("/", 1)[-1])
    props = body.get("properties") or {}
    template = props.get("template") or {}
    containers = template.get("containers") or []
    if not containers:
        raise SpecError("the container app has no containers in properties.template.containers")
    if len(containers) > 1:
        raise SpecError(
            f"the container app has {len(containers)} containers; the local runner runs exactly one"
        )
    container = containers[0] or {}
    image = str(container.get("image") or "")
    tags = body.get("tags") or {}
    opted_in = str(tags.get(RUNNER_TAG, "")).strip().lower() == RUNNER_TAG_VALUE
    if not (is_server_image(image) or opted_in):
        raise SpecError(
            f"image {image!r} cannot run on the local target: only the lab's MCP server runs here "
            f"(an image whose repository name has the word 'mcp' and ends with 'server', such as "
            f"'mcp-server', or a container app tagged '{RUNNER_TAG}: {RUNNER_TAG_VALUE}')"
        )

    configuration = props.get("configuration") or {}
    ingress = configuration.get("ingress") or {}
    fqdn = str(ingress.get("fqdn") or "")
    if not fqdn:
        raise SpecError("the container app has no ingress fqdn (properties.configuration.ingress.fqdn)")
    port = port_of(fqdn)

    secrets = {
        str(s.get("name")): s.get("value")
        for s in configuration.get("secrets") or []
        if isinstance(s, dict) and s.get("name")
    }
    env: list[tuple[str, str]] = []
    for entry in container.get("env") or []:
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        var = str(entry["name"])
        if entry.get("secretRef"):
            ref = str(entry["secretRef"])
            value = secrets.get(ref)
            if value is None:
                raise SpecError(
                    f"env {var} refers to secret {ref!r}, which properties.configuration.secrets "
                    "does not define with a value (Key Vault references do not run locally)"
                )
            env.append((var, str(value)))
        else:
            env.append((var, str(entry.get("value") or "")))

    identity = body.get("identity") or {}
    identities = tuple(
        sorted(
            (str(rid).lower(), str((info or {}).get("clientId") or ""))
            for rid, info in (identity.get("userAssignedIdentities") or {}).items()
        )
    )
    return AppSpec(key=key, name=name, image=image, port=port, env=tuple(env), identities=identities)
