"""An emulated Kubernetes API server for the operator tests: kmock 0.8's
`KubernetesEmulator` with the fixes TESTING.md lists for kopf 1.45 and kubectl, served from
a background thread (its own event loop), so tests stay synchronous and kopf runs in
`KopfRunner`'s thread against a real HTTP endpoint.

Fixes: discovery of CRDs, namespaces, events, secrets, services, kopf peerings and our kinds;
resourceVersion, uid, creationTimestamp and generation stamped on create and every patch;
JSON-patch `test` ops answered with 422 on conflict; watches replay only objects newer than
`?resourceVersion=` and lose no change made during the replay; list responses carry
kind/apiVersion/resourceVersion; core discovery says `v1`; a Secret's stringData is
merged into data; only the latest requests are
remembered (kmock's matching is O(n²) in them).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime
import itertools
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import jsonpatch
import kmock
import yaml
from kmock._internal import enums, k8s, parsing, rendering

from tests.support.gateway import wait_until

GROUP = "herald.dev/v1alpha1"
_KINDS = {
    "topics": ("Topic", ["htopic"]),
    "subscriptions": ("Subscription", ["hsub"]),
}

_WRITES = (enums.action.CREATE, enums.action.UPDATE, enums.action.DELETE)
#: Requests the emulator remembers (kmock keeps them all; see `Emulator`).
_KEPT_REQUESTS = 64
_parse_path = parsing.parse_path


def _parse_path_fixed(path: str) -> parsing.ParsedPath:
    """kmock 0.8 fails on `/api/v1/namespaces[/name]` (it reads `namespaces` as a scope)."""
    parts = path.strip("/").split("/")
    if parts[:3] == ["api", "v1", "namespaces"] and len(parts) <= 4:
        name = parts[3] if len(parts) == 4 else None
        return parsing.ParsedPath("", "v1", "namespaces", None, name, None)
    return _parse_path(path)


parsing.parse_path = _parse_path_fixed


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesEmulator):
    _counter: Any = attrs.field(factory=lambda: itertools.count(1000), init=False)
    resource_version: int = attrs.field(default=1000, init=False)
    #: Every `METHOD path` requested (no query): what a test may check was, or was never,
    #: asked for.
    requested_paths: set[str] = attrs.field(factory=set, init=False)
    #: Writes that took effect, by "<action> <plural>[/<subresource>]" (e.g. "update
    #: subscriptions/status"); a patch refused by its `test` op (a resourceVersion guard that
    #: lost a race, then retried) is not one.
    writes: collections.Counter[str] = attrs.field(factory=collections.Counter, init=False)
    #: The same writes in order, with the object's name and the body sent: what a failed
    #: count assertion shows.
    written: list[tuple[str, str | None, Any]] = attrs.field(factory=list, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # kmock keeps every request it served and, for each new one, scans them all to find
        # which reaction it belongs to: O(n²), minutes at a few thousand objects. Only the
        # request being served has to be found, so keep the latest few.
        self._requests = collections.deque(maxlen=_KEPT_REQUESTS)  # type: ignore[assignment]
        resources: Any = self.resources
        resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = {
            "kind": "CustomResourceDefinition", "namespaced": False,
            "verbs": {"list", "watch", "get"}}  # fmt: skip
        resources["v1/namespaces"] = {"kind": "Namespace", "namespaced": False,
                                           "verbs": {"list", "watch", "get", "create"}}  # fmt: skip
        resources["v1/events"] = {"kind": "Event", "namespaced": True,
                                  "verbs": {"create", "list", "get"}}  # fmt: skip
        resources["v1/secrets"] = {
            "kind": "Secret", "namespaced": True,
            "verbs": {"list", "watch", "get", "create", "patch", "delete"}}  # fmt: skip
        resources["v1/services"] = {
            "kind": "Service", "namespaced": True,
            "verbs": {"list", "watch", "get", "create", "patch", "delete"}}  # fmt: skip
        # kopf peering (active/standby operators): the kinds of kopf's peering CRDs
        for plural, kind, namespaced in (("clusterkopfpeerings", "ClusterKopfPeering", False),
                                         ("kopfpeerings", "KopfPeering", True)):  # fmt: skip
            resources[f"kopf.dev/v1/{plural}"] = {
                "kind": kind, "singular": kind.lower(), "namespaced": namespaced,
                "verbs": {"list", "watch", "get", "create", "patch"}}  # fmt: skip
        for plural, (kind, short) in _KINDS.items():
            resources[f"{GROUP}/{plural}"] = {
                "kind": kind, "singular": kind.lower(), "namespaced": True,
                "shortnames": set(short),
                "categories": {"herald"}, "subresources": {"status"},
                "verbs": {"list", "watch", "get", "create", "patch", "delete"}}  # fmt: skip

    def _next_version(self) -> str:
        self.resource_version = next(self._counter)
        return str(self.resource_version)

    async def _handle(self, request: rendering.Request) -> Any:
        method = getattr(request.method, "value", request.method)
        self.requested_paths.add(f"{method} {str(request.url).partition('?')[0]}")
        if request.resource is not None and isinstance(request.data, (dict, list)):
            if request.action == enums.action.CREATE:
                self._stamp_create(request)
            elif request.action == enums.action.UPDATE:
                self._stamp_patch(request)  # a failed `test` op: 422, not a write
        result = await super()._handle(request)
        if request.resource is not None and request.action in _WRITES:
            sub = f"/{request.subresource}" if request.subresource else ""
            key = f"{request.action.value.lower()} {request.resource.plural}{sub}"
            self.writes[key] += 1
            self.written.append((key, request.name, request.data))
        return result

    def _stamp_create(self, request: rendering.Request) -> None:
        meta = request.data.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if request.namespace and not meta.get("namespace"):
            meta["namespace"] = request.namespace
        now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta.update(resourceVersion=self._next_version(), uid=str(uuid.uuid4()),
                    creationTimestamp=now, generation=1)  # fmt: skip
        if request.data.get("kind") == "Secret" and "stringData" in request.data:
            # as the API server does: stringData is merged into data, base64-encoded
            data = request.data.setdefault("data", {})
            for key, value in request.data.pop("stringData").items():
                data[key] = base64.b64encode(str(value).encode()).decode()

    def _current(self, request: rendering.Request) -> dict[str, Any] | None:
        key: Any = (request.resource, request.namespace, request.name)
        objects: Any = self.objects
        if key not in objects or objects[key].deleted:
            return None
        return dict(objects[key].raw)

    def _stamp_patch(self, request: rendering.Request) -> None:
        current = self._current(request)
        if current is None:
            return  # kmock answers 404
        data = request.data
        generation = int(current.get("metadata", {}).get("generation", 1))
        if isinstance(data, list):
            for op in data:
                if op.get("op") == "test":
                    try:
                        jsonpatch.apply_patch(current, [op])
                    except jsonpatch.JsonPatchTestFailed:
                        raise k8s.KubernetesError(status=422, reason="Conflict",
                                                  message="test op failed") from None  # fmt: skip
            touches_spec = any(op.get("path", "").startswith("/spec") for op in data)
            data.append({"op": "add", "path": "/metadata/resourceVersion",
                         "value": self._next_version()})  # fmt: skip
            if touches_spec and request.subresource is None:
                data.append({"op": "add", "path": "/metadata/generation", "value": generation + 1})
            return
        meta = data.setdefault("metadata", {})
        meta["resourceVersion"] = self._next_version()
        if "spec" in data and request.subresource is None and data["spec"] != current.get("spec"):
            meta["generation"] = generation + 1

    async def _serve_list(self, request: rendering.Request) -> Any:
        result: Any = await super()._serve_list(request)
        assert request.resource is not None
        info = self.resources[request.resource]
        group = request.resource.group
        version = request.resource.version
        result["apiVersion"] = f"{group}/{version}" if group else version
        result["kind"] = f"{info.kind}List"
        result["metadata"] = {"resourceVersion": str(self.resource_version)}
        return result

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[Any]:
        """kmock's watch, minus two faults: it replays every object as ADDED, even those the
        client listed already (skipped here by `?resourceVersion=`), and it joins the event
        bus only after the replay, losing what changed meanwhile (joined here before the
        snapshot is taken, under the lock that object changes hold)."""
        since = int(request.params.get("resourceVersion") or 0)
        yield b""  # the headers: the stream has started
        assert request.resource is not None
        bus = self._buses[request.resource]
        kmock: Any = self  # its name-mangled private helpers
        async with self._lock:
            mark = await bus.mark()
            objs = [o for o in kmock._KubernetesEmulator__get_objs(request, strict=False)
                    if not o.deleted]  # fmt: skip
        try:
            for obj in objs:
                if int(obj.raw.get("metadata", {}).get("resourceVersion") or 0) > since:
                    yield {"type": "ADDED", "object": obj.raw}
            async for event in bus.stream(since=mark):
                meta = event.get("object", {}).get("metadata", {})
                where = (request.resource, meta.get("namespace"), meta.get("name"))
                if kmock._KubernetesEmulator__check(request, *where, strict=False):
                    yield event
        finally:
            await bus.unmark(mark)

    async def _serve_version(self, request: rendering.Request) -> Any:
        result: Any = await super()._serve_version(request)
        if result.get("groupVersion") == "/v1":
            result["groupVersion"] = "v1"
        return result


class KubeServer:
    """The emulator on 127.0.0.1, served from a thread; `client` is an httpx client for it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.emulator = Emulator()
        self.url = ""
        self._stack: Any = None

    def start(self, namespaces: tuple[str, ...] = ("default", "shop", "other")) -> KubeServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        self.client = httpx.Client(base_url=self.url, timeout=10)
        try:
            for ns in namespaces:
                self.create("v1", "namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": ns}})  # fmt: skip
        except BaseException:
            self.stop()
            raise
        return self

    async def _start(self) -> None:
        await self.emulator.__aenter__()
        self.server = kmock.Server(self.emulator)
        await self.server.__aenter__()
        self.url = str(self.server.url).rstrip("/")

    def stop(self) -> None:
        async def _stop() -> None:
            streams = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in streams:  # open watch streams
                task.cancel()
            await asyncio.gather(*streams, return_exceptions=True)
            await self.server.__aexit__(None, None, None)
            await self.emulator.__aexit__(None, None, None)

        self.client.close()
        asyncio.run_coroutine_threadsafe(_stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def kubeconfig(self, path: Path) -> Path:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "kmock",
            "clusters": [{"name": "kmock", "cluster": {"server": self.url}}],
            "users": [{"name": "kmock", "user": {"token": "kmock"}}],
            "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock",
                                                       "namespace": "default"}}],
        }  # fmt: skip
        path.write_text(yaml.safe_dump(config))
        return path

    # -- a tiny client ------------------------------------------------------------------------

    @staticmethod
    def _path(api: str, plural: str, namespace: str | None, name: str | None = None) -> str:
        base = f"/api/{api}" if api == "v1" else f"/apis/{api}"
        ns = f"/namespaces/{namespace}" if namespace else ""
        return f"{base}{ns}/{plural}" + (f"/{name}" if name else "")

    def create(self, api: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        namespace = obj.get("metadata", {}).get("namespace")
        response = self.client.post(self._path(api, plural, namespace), json=obj)
        response.raise_for_status()
        return dict(response.json())

    def get(self, api: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        response = self.client.get(self._path(api, plural, namespace, name))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def patch(
        self, api: str, plural: str, namespace: str, name: str, patch: dict[str, Any]
    ) -> None:
        response = self.client.patch(
            self._path(api, plural, namespace, name), json=patch,
            headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
        response.raise_for_status()

    def delete(self, api: str, plural: str, namespace: str, name: str) -> None:
        self.client.delete(self._path(api, plural, namespace, name)).raise_for_status()

    def herald(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.get(GROUP, plural, namespace, name)

    def events(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """The Events posted so far (of `namespace`, or of every namespace)."""
        objects: Any = self.emulator.objects
        return [dict(o.raw) for key, o in list(objects.items())
                if key[0].plural == "events" and not o.deleted
                and namespace in (None, key[1])]  # fmt: skip

    def condition(self, plural: str, namespace: str, name: str, type_: str) -> dict[str, Any]:
        obj = self.herald(plural, namespace, name) or {}
        for cond in obj.get("status", {}).get("conditions", []):
            if cond["type"] == type_:
                return dict(cond)
        return {}

    def wait_condition(self, plural: str, namespace: str, name: str, type_: str, status: str,
                       timeout: float = 10.0) -> dict[str, Any]:  # fmt: skip
        def check() -> dict[str, Any] | None:
            cond = self.condition(plural, namespace, name, type_)
            return cond if cond.get("status") == status else None

        return dict(wait_until(check, timeout=timeout, what=f"{plural} {name} {type_}={status}"))
