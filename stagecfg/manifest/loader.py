"""The YAML loader every manifest file is read with: safe, libyaml's C loader when present, and
without YAML 1.1 implicit typing (every untagged scalar composes as a string, typed later).

The pre-scan (``caps``) and the composing (``sources``) both drive this one class, so what is
counted before composing is exactly what is composed. It is a module of its own, under both:
next to the data building (``yaml_data``) it would make ``caps`` import that module while that
module imports the caps' limits, and inside ``caps`` the loader choice would be hidden among
the size limits.
"""

from __future__ import annotations

from typing import Any

import yaml

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Safe loader without YAML 1.1 implicit types: every untagged scalar composes as a string."""

    yaml_implicit_resolvers: dict[Any, Any] = {}

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        # Called only for untagged nodes; with no implicit resolvers the answer is fixed.
        if kind is yaml.ScalarNode:
            return "tag:yaml.org,2002:str"
        if kind is yaml.SequenceNode:
            return "tag:yaml.org,2002:seq"
        return "tag:yaml.org,2002:map"
