"""The private parts of other libraries Herald leans on, checked by name, so that a release that
moves them fails here with a message saying what moved and where Herald uses it, instead of as
a hang or a wrong status deep inside an integration test.

- `herald_gateway.api.limits.SlowClientProtocol` subclasses uvicorn's `HttpToolsProtocol`
  (pyproject.toml bounds uvicorn below the next minor release for this reason).
- `herald_operator.tokens.unregister` and `herald_operator.metrics.instrument` edit kopf's
  handler registries (kopf is bounded below its next minor release).
- `tests.support.kube.Emulator` subclasses kmock's `KubernetesEmulator` and patches its path
  parser (kmock is pinned exactly in the `test` group).

Widening a bound: update uv.lock (`make upgrade`), run this file, then the tests that use
the part (tests/integration/test_hostile_input.py, tests/control_plane).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from importlib.metadata import version

import pytest


def _assigned(function: Callable[..., object], *names: str) -> list[str]:
    """Those of `names` that `function` never assigns as `self.<name> =`."""
    source = inspect.getsource(function)
    return [name for name in names if not re.search(rf"self\.{name}\s*(:[^=\n]+)?=", source)]


def _missing(owner: object, *names: str) -> list[str]:
    return [name for name in names if not hasattr(owner, name)]


def _fail_if(missing: list[str], what: str, user: str, package: str) -> None:
    if missing:
        pytest.fail(
            f"{package} {version(package)} no longer has {what}: {', '.join(missing)}. "
            f"{user} relies on it; adapt it before moving to this release.",
            pytrace=False,
        )


def test_uvicorn_http_tools_protocol_has_what_slow_client_protocol_overrides() -> None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

    user = "herald_gateway/api/limits.py (SlowClientProtocol)"
    hooks = ("connection_made", "data_received", "on_message_complete", "connection_lost")
    _fail_if(_missing(HttpToolsProtocol, *hooks), "HttpToolsProtocol methods", user, "uvicorn")
    for hook in hooks:
        parameters = list(inspect.signature(getattr(HttpToolsProtocol, hook)).parameters)
        _fail_if([] if len(parameters) <= 2 else [f"{hook}{parameters}"],
                 "the one-argument protocol hook", user, "uvicorn")  # fmt: skip
    _fail_if(_assigned(HttpToolsProtocol.__init__, "cycle", "loop"),
             "HttpToolsProtocol attributes", user, "uvicorn")  # fmt: skip
    _fail_if(_assigned(HttpToolsProtocol.connection_made, "transport"),
             "HttpToolsProtocol.transport", user, "uvicorn")  # fmt: skip
    _fail_if(_assigned(RequestResponseCycle.__init__, "response_started", "response_complete"),
             "RequestResponseCycle attributes", user, "uvicorn")  # fmt: skip


def test_kmock_emulator_has_what_the_test_emulator_extends() -> None:
    import attrs
    import kmock
    from kmock._internal import enums, k8s, parsing, rendering

    user = "tests/support/kube.py (Emulator)"
    emulator = kmock.KubernetesEmulator
    _fail_if(_missing(emulator, "_handle", "_serve_list", "_serve_watch", "_serve_version",
                      "_KubernetesEmulator__get_objs", "_KubernetesEmulator__check",
                      "resources", "objects"),
             "KubernetesEmulator members", user, "kmock")  # fmt: skip
    fields = {field.name for field in attrs.fields(emulator)}
    _fail_if(sorted({"_requests", "_buses", "_lock"} - fields),
             "KubernetesEmulator fields", user, "kmock")  # fmt: skip
    request = {field.name for field in attrs.fields(rendering.Request)}
    _fail_if(sorted({"action", "resource", "namespace", "name", "subresource", "data",
                     "params"} - request),
             "rendering.Request fields", user, "kmock")  # fmt: skip
    _fail_if(_missing(parsing, "parse_path", "ParsedPath"), "parsing members", user, "kmock")
    path_fields = list(inspect.signature(parsing.ParsedPath).parameters)
    _fail_if([] if len(path_fields) == 6 else [f"ParsedPath{path_fields}"],
             "the six-field ParsedPath", user, "kmock")  # fmt: skip
    _fail_if(_missing(enums.action, "CREATE", "UPDATE"), "action kinds", user, "kmock")
    _fail_if(_missing(k8s, "KubernetesError"), "k8s.KubernetesError", user, "kmock")


def test_kopf_registry_has_the_handler_lists_the_operator_edits() -> None:
    import dataclasses

    import kopf

    user = "herald_operator/tokens.py (unregister) and herald_operator/metrics.py (instrument)"
    registry = kopf.OperatorRegistry()
    lists = ("_indexing", "_watching", "_changing", "_spawning")
    _fail_if(_missing(registry, *lists), "OperatorRegistry handler registries", user, "kopf")
    _fail_if([name for name in lists if not isinstance(getattr(registry, name)._handlers, list)],
             "a _handlers list in each registry", user, "kopf")  # fmt: skip

    @kopf.on.create("herald.dev", "v1alpha1", "topics", registry=registry)
    def handler(**_: object) -> None: ...

    [record] = registry._changing._handlers
    _fail_if([] if dataclasses.is_dataclass(record) else [type(record).__name__],
             "dataclass handler records", user, "kopf")  # fmt: skip
    _fail_if(_missing(record, "fn", "selector"), "handler record fields", user, "kopf")
    _fail_if(_missing(record.selector, "plural", "any_name", "group"),
             "selector fields", user, "kopf")  # fmt: skip
