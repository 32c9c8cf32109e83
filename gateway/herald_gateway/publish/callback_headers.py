"""Pure parsing of the `Upstash-*` headers that are not plain configuration values
(reference §3.2): which kind each header is, the headers a message forwards, and the
callbacks a publish configures (`Upstash-Callback-<Publish-Header>`, nested).

Shared by the publish model (herald_gateway.publish.publishing) and DLQ retries; errors name the
header as the client spelled it, nested callbacks included.
"""

from __future__ import annotations

from herald_core.egress import check_destination
from herald_core.errors import InvalidField
from herald_core.models import Callback
from herald_core.settings import Settings
from herald_gateway.publish.destinations import parse_destination
from herald_gateway.publish.header_values import (
    TOKEN,
    canonical_header,
    check_header_value,
    flow_fields,
    parse_delay,
    parse_flow,
    parse_labels,
    parse_method,
    parse_redaction,
    parse_retries,
    parse_retry_delay,
    parse_timeout,
)

#: Configuration headers of a publish (`Upstash-<suffix>`), each parsed where it applies.
CONFIG = frozenset(
    {"method", "delay", "not-before", "retries", "retry-delay", "timeout", "header-forward",
     "label", "redact-fields", "deduplication-id", "content-based-deduplication",
     "flow-control-key", "flow-control-value"}
)  # fmt: skip
#: Of those, what a callback message cannot take: it answers no request of its own, and is
#: stored by the script that settles its source's attempt (no deduplication there).
_NOT_FOR_CALLBACKS = frozenset(
    {"header-forward", "deduplication-id", "content-based-deduplication", "not-before"}
)
#: Forwarded header names never sent on (`Upstash-Forward-Content-Length`, ...): the
#: sender writes these for the body and connection it actually sends. The Workflow SDKs
#: forward every header of the request their endpoint got, these included.
_NEVER_FORWARDED = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te",
     "trailer", "upgrade", "proxy-connection", "expect"}
)  # fmt: skip
#: Callbacks of callbacks (`Upstash-Callback-Failure-Callback-...`) nest this deep at most.
_MAX_NESTING = 4


def header_kind(suffix: str) -> str:
    """What `Upstash-<suffix>` is: forward, workflow (forwarded as it is), config, callback
    (its URL or its configuration), telemetry (SDK metadata, dropped), feature (the
    Workflow SDKs' `Upstash-Feature-Set`: accepted, not forwarded) or unknown."""
    if suffix.startswith("forward-"):
        return "forward"
    if suffix == "feature-set":
        return "feature"
    if suffix.startswith("workflow-"):
        return "workflow"
    if suffix in CONFIG:
        return "config"
    if suffix in ("callback", "failure-callback") or suffix.startswith(
        ("callback-", "failure-callback-")
    ):
        return "callback"
    return "telemetry" if suffix.startswith("telemetry-") else "unknown"


def forwarded_name(suffix: str, field_name: str) -> str:
    """The header `Upstash-<suffix>` (`forward-<name>`) forwards: `<Name>`, canonical."""
    name = suffix[len("forward-") :]
    if not name or not TOKEN.match(name):
        raise InvalidField(field_name, "not a valid header name")
    return canonical_header(name)


def upstash_headers(upstash: dict[str, str], label: str, ignored: list[str]) -> dict[str, str]:
    """`Upstash-Forward-<Name>` (prefix removed) and `Upstash-Workflow-*` (as they are) of
    one message; unknown names go to `ignored` as the client spelled them under `label`."""
    out: dict[str, str] = {}
    for lname, value in upstash.items():
        suffix = lname[len("upstash-") :]
        field_name = f"{label}-{canonical_header(suffix)}"
        kind = header_kind(suffix)
        if kind == "forward":
            name = forwarded_name(suffix, field_name)
            if name.lower() not in _NEVER_FORWARDED:
                out[name] = check_header_value(field_name, value)
        elif kind == "workflow":
            out[canonical_header(lname)] = check_header_value(field_name, value)
        elif kind == "unknown":
            ignored.append(field_name)
    return out


def parse_callback(
    prefix: str,
    upstash: dict[str, str],
    settings: Settings,
    ignored: list[str],
    label: str = "",
    depth: int = 0,
) -> Callback | None:
    """`<prefix>` (`upstash-callback` or `upstash-failure-callback`) and its
    `<prefix>-<Publish-Header>` headers: the callback message configured as a publish with
    those headers would be — forwarded headers, method, timeout, retries, retry delay,
    delay, labels, redaction, flow control, and callbacks of its own (QStash docs,
    features/callbacks "Configuring Callbacks"). `label` is the header name it was given
    under, for errors (`Upstash-Callback-Failure-Callback` when nested)."""
    label = label or canonical_header(prefix)
    sub = {"upstash-" + lname[len(prefix) + 1 :]: value
           for lname, value in upstash.items() if lname.startswith(prefix + "-")}  # fmt: skip
    url = upstash.get(prefix)
    if url is None:
        kinds = {header_kind(n[len("upstash-") :]) for n in sub}
        if kinds - {"unknown", "telemetry", "feature"}:
            raise InvalidField(label, f"missing, but {label}-* options were given")
        ignored += (f"{label}-{canonical_header(n[len('upstash-') :])}" for n in sub
                    if header_kind(n[len("upstash-") :]) == "unknown")  # fmt: skip
        return None
    if depth >= _MAX_NESTING:
        raise InvalidField(label, f"callbacks nest at most {_MAX_NESTING} deep")

    def name(suffix: str) -> str:
        return f"{label}-{canonical_header(suffix)}"

    for suffix in _NOT_FOR_CALLBACKS:
        if "upstash-" + suffix in sub:
            raise InvalidField(name(suffix), "not supported for callbacks")
    options = {n[len("upstash-") :]: v for n, v in sub.items()}
    flow = parse_flow(options.get("flow-control-key"), options.get("flow-control-value"),
                      name("flow-control"))  # fmt: skip
    return Callback(
        url=check_destination(parse_destination(url.strip(), "", label), settings, label),
        method=parse_method(options.get("method"), name("method")),
        headers=upstash_headers(sub, label, ignored),
        timeout=None if "timeout" not in options else parse_timeout(
            options["timeout"], settings, name("timeout")),
        retries=None if "retries" not in options else parse_retries(
            options["retries"], settings, name("retries")),
        retry_delay=parse_retry_delay(options.get("retry-delay"), name("retry-delay")),
        delay=0.0 if "delay" not in options else parse_delay(
            options["delay"], settings, name("delay")),
        labels=None if "label" not in options else parse_labels(options["label"], name("label")),
        redact=parse_redaction(options.get("redact-fields"), name("redact-fields")),
        **flow_fields(flow),
        callback=parse_callback("upstash-callback", sub, settings, ignored,
                                name("callback"), depth + 1),
        failure_callback=parse_callback("upstash-failure-callback", sub, settings, ignored,
                                        name("failure-callback"), depth + 1),
    )  # fmt: skip
