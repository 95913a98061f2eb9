"""The version of every machine-readable document prmlab prints (``format_version``).

Raised when a document changes incompatibly (a field removed or its meaning changed); fields
may be added within a version. The documents and their schemas: docs/json-output.md.
"""

from __future__ import annotations

FORMAT_VERSION = 1
