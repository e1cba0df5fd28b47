"""A real editor client: yaml-language-server, over LSP on stdio, reading the committed schema.

The server comes from npm, pinned, into .ci/node (``.ci/run`` installs it; locally run
``npm install --prefix .ci/node yaml-language-server@1.19.2``), or from
``STAGECFG_YAML_LANGUAGE_SERVER`` (the path of its ``bin/yaml-language-server``). The tests skip,
saying why, when node or the server is absent; they never install anything.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT
from lsp_client import LspClient

pytestmark = pytest.mark.editor

SCHEMA = REPO_ROOT / "schemas" / "stagecfg.schema.json"
PINNED = "yaml-language-server@1.19.2"
DEFAULT_SERVER = REPO_ROOT / ".ci" / "node" / "node_modules" / "yaml-language-server" / "bin"
SETTINGS: dict[str, Any] = {
    # No schema store: the server would fetch its catalog from the internet.
    "yaml": {
        "validate": True,
        "completion": True,
        "hover": True,
        "schemaStore": {"enable": False},
        "schemas": {},
    },
}


def _server() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the editor test needs Node.js")
    script = Path(
        os.environ.get("STAGECFG_YAML_LANGUAGE_SERVER") or DEFAULT_SERVER / "yaml-language-server"
    )
    if not script.is_file():
        pytest.skip(
            f"yaml-language-server is absent ({script}); "
            f"run: npm install --prefix .ci/node {PINNED}"
        )
    return [node, str(script), "--stdio"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LspClient]:
    command = _server()
    root = tmp_path_factory.mktemp("editor")
    client = LspClient(command, SETTINGS, timeout=30.0)
    try:
        client.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "capabilities": {
                    "textDocument": {
                        "completion": {"completionItem": {"snippetSupport": False}},
                        "publishDiagnostics": {},
                    },
                    "workspace": {"configuration": True},
                },
                "initializationOptions": {},
            },
        )
        client.notify("initialized", {})
        client.notify("workspace/didChangeConfiguration", {"settings": SETTINGS})
        yield client
    finally:
        client.close()


def _open(client: LspClient, tmp_path: Path, body: str) -> str:
    path = tmp_path / "stagecfg.yaml"
    text = f"# yaml-language-server: $schema={SCHEMA.as_uri()}\n{body}"
    path.write_text(text, "utf-8")
    uri = path.as_uri()
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}},
    )
    return uri


def _diagnostics(client: LspClient, uri: str) -> list[dict[str, Any]]:
    """The first non-empty diagnostics the server publishes for ``uri``."""

    def published(message: dict[str, Any]) -> bool:
        return (
            message.get("method") == "textDocument/publishDiagnostics"
            and message["params"]["uri"] == uri
            and bool(message["params"]["diagnostics"])
        )

    for earlier in client.notifications:
        if published(earlier):
            return list(earlier["params"]["diagnostics"])
    diagnostics: list[dict[str, Any]] = client.wait_for(published)["params"]["diagnostics"]
    return diagnostics


def _labels(result: Any) -> dict[str, Any]:
    items = result.get("items", []) if isinstance(result, dict) else result or []
    return {item["label"]: item for item in items}


def test_editor_flags_a_capability_name_in_a_grant_list(server: LspClient, tmp_path: Path) -> None:
    body = (
        "version: 1\ncall_types:\n  livestream:\n    grants:\n"
        "      host: [join-backstage, start-record-call]\n"
    )
    uri = _open(server, tmp_path, body)
    diagnostics = _diagnostics(server, uri)
    line = 5  # 0-based: the modeline, then the body's fifth line
    column = body.splitlines()[4].index("start-record-call")
    flagged = [d for d in diagnostics if d["range"]["start"] == {"line": line, "character": column}]
    assert flagged, diagnostics
    assert all(d["range"]["start"]["line"] == line for d in diagnostics), diagnostics


def test_editor_completes_permission_ids_in_a_grant_list(server: LspClient, tmp_path: Path) -> None:
    body = "version: 1\ncall_types:\n  livestream:\n    grants:\n      host: [join-call, ]\n"
    uri = _open(server, tmp_path, body)
    column = body.splitlines()[4].index("]")
    result = server.request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": 5, "character": column}},
    )
    labels = _labels(result)
    for permission in ("start-recording", "join-backstage-owner", "join-call-any-team"):
        assert permission in labels, sorted(labels)[:20]
    assert "start-record-call" not in labels
    assert labels["start-recording"].get("documentation"), labels["start-recording"]


def test_editor_suggests_built_in_roles(server: LspClient, tmp_path: Path) -> None:
    body = "version: 1\nusers:\n  alice:\n    role: \n"
    uri = _open(server, tmp_path, body)
    result = server.request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": 4, "character": len("    role: ")}},
    )
    assert {"user", "admin", "guest"} <= set(_labels(result))


def test_editor_accepts_environments_overlays_and_typed_variables(
    server: LspClient, tmp_path: Path
) -> None:
    body = (
        "version: 1\n"
        "environment: production\n"
        "variables:\n"
        "  max_viewers: {type: integer, default: 100, description: audience}\n"
        "  hook: {type: string, secret: true}\n"
        "values: {max_viewers: 5000, title: launch}\n"
        "call_types:\n"
        "  shows:\n"
        "    settings:\n"
        "      limits: {max_participants: '${max_viewers}'}\n"
        "      backstage:\n"
        "        enabled: ${record}\n"
        "overlay:\n"
        "  call_types:\n"
        "    livestream:\n"
        "      settings: {recording: {mode: null}, backstage: null}\n"
        "      grants: {host: null, user: [join-call]}\n"
        "  calls:\n"
        "    livestream:show: null\n"
        "  users:\n"
        "    alice: {name: Alice, bogus: 1}\n"
    )
    uri = _open(server, tmp_path, body)
    diagnostics = _diagnostics(server, uri)
    # Only the deliberate mistake, on the last line (0-based: the modeline, then the body).
    last = len(body.splitlines())
    assert diagnostics and all(d["range"]["start"]["line"] == last for d in diagnostics), (
        diagnostics
    )
