"""The Lua scripts (herald_core/lua) and their typed wrappers (herald_core.scripts): every
script states its contract, every wrapper keeps to it, and luacheck finds nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from herald_core.keys import SHARD_LAYOUT, Keys, ShardKeys
from herald_core.scripts import (
    dead_letters,
    flow,
    lua,
    messages,
    queues,
    routing,
    schedules,
    signing_keys as signing,
    workflow_events,
    workflows,
)
from herald_core.scripts.lua import ScriptCall
from herald_core.scripts.messages import (
    EnqueueArgs,
    NewMessageArgs,
    SettleArgs,
    SettleOutcome,
)

ROOT = Path(__file__).resolve().parents[2]
_KEYS_LINE = re.compile(r"^-- KEYS\[(\d+)\] ")
_ARGV_LINE = re.compile(r"^-- ARGV\[(\d+)(?:\.\.(\d+)?)?\] ")
_KEYS = Keys("herald", 4)
_SK = _KEYS.shard(3)
_NEW = NewMessageArgs("msg_1", b"{}", b"body", 30_000, 5, True, "", "")


def _header(name: str) -> list[str]:
    """The comment block a script file starts with."""
    lines = lua.file_text(name).splitlines()
    end = next((i for i, line in enumerate(lines) if not line.startswith("--")), len(lines))
    return lines[:end]


def _declared_keys(name: str) -> int:
    numbers = [int(m.group(1)) for m in map(_KEYS_LINE.match, _header(name)) if m]
    assert numbers == list(range(1, len(numbers) + 1)), f"{name}.lua: KEYS not 1..n in order"
    return len(numbers)


def _sample_calls() -> list[ScriptCall]:
    """One call of every wrapper."""
    rk = _KEYS.routing
    return [
        messages.enqueue(_SK, 100, [EnqueueArgs(_NEW, "dedup", 1000)]),
        messages.claim(_SK, 1, 10, 15_000, 100),
        messages.settle(_SK, 100, 1, 15_000, 0,
                        [SettleArgs(SettleOutcome.DELIVERED, "msg_1", "", b"{}", [_NEW])]),
        messages.renew(_SK, 2, [("msg_1", 1)]),
        messages.cancel(_SK, 100, 1, ["msg_1"]),
        dead_letters.dlq_retry(_SK, 100, "dlq_1", _NEW),
        dead_letters.dlq_delete(_SK, ["dlq_1"]),
        dead_letters.janitor(_SK, 1, 1),
        signing.load_keys(_KEYS, "seed", "current", "next"),
        signing.rotate_keys(_KEYS, "fresh"),
        queues.queue_set(_SK, "q", 1, parallelism=2, paused=None, create=True),
        queues.queue_delete(_SK, "q", 100),
        flow.flow_pause(_SK, "k", True, 1),
        flow.flow_pin(_SK, "k", 1, None, None),
        flow.grant(_KEYS, "w", 1, 0, 0, 1, 1000),
        schedules.schedule_claim(_KEYS, 1, 1000, 10),
        schedules.schedule_done(_KEYS, "scd_1", "v", fired=None, next_tick=2, messages=None,
                                error=None),
        schedules.schedule_put(_KEYS, "scd_1", b"{}", b"", "v", 1, False),
        schedules.schedule_delete(_KEYS, "scd_1"),
        schedules.schedule_pause(_KEYS, "scd_1", True),
        routing.put_table(rk, "ns/t", [("topic", b"{}")], replace=True, guard="", remove=[]),
        routing.drop_table(rk, "ns/t", guard="", owner=""),
        routing.put_entry(rk, "ns/t", "s:a", b"{}"),
        routing.sync_table(rk, "ns/t", b"{}", [("s:a", b"{}")]),
        routing.sync_tokens(rk, "ns/secret", ["hash"]),
        workflows.workflow_start(_SK, 100, "wfr_1", "http://w", 1, b"{}", _NEW, 1000),
        workflows.workflow_step(_SK, 100, "wfr_1", 1, b"{}", 1, _NEW),
        workflows.workflow_end(_SK, "wfr_1", "DONE", 1000),
        workflows.workflow_revive(_SK, 100, "wfr_1", "wfr_2", "dlq_1", "resume", 1, 1, b"{}",
                                   _NEW),
        workflows.workflow_call(_SK, 100, "wfr_1", "call:2", _NEW),
        workflow_events.workflow_wait(_SK, "wfr_1", "evt", b"{}", 1000, b"[]", 1),
        workflow_events.workflow_resume(_SK, 100, "wfr_1", "evt", b"[]", b"{}", 1, b"{}", 1,
                                        b"", _NEW),
        workflow_events.workflow_mail(_SK, "wfr_1", "evt", b"e", 1000),
    ]  # fmt: skip


@pytest.mark.parametrize("name", lua.script_names())
def test_every_script_states_its_keys_argv_and_reply(name: str) -> None:
    header = _header(name)
    assert header and re.match(rf"^-- {name.upper()}: \S", header[0]), (
        f"{name}.lua must open with '-- {name.upper()}: what it does'"
    )
    assert _declared_keys(name) >= 1, f"{name}.lua: no KEYS[n] lines in its header"
    assert any(_ARGV_LINE.match(line) for line in header), f"{name}.lua: no ARGV lines"
    assert any(line.startswith("-- Reply: ") for line in header), f"{name}.lua: no Reply line"


def test_every_wrapper_passes_the_keys_its_script_declares() -> None:
    calls = _sample_calls()
    assert {c.script.name for c in calls} == set(lua.script_names()), "a script has no sample"
    for call in calls:
        assert len(call.keys) == _declared_keys(call.script.name), call.script.name


def test_every_script_is_registered_for_the_noscript_reload() -> None:
    _sample_calls()  # the wrappers' modules are imported: every script is loaded
    assert {s.name for s in lua.registered()} == set(lua.script_names())


def test_a_script_declares_keys_of_one_hash_tag() -> None:
    for call in _sample_calls():
        tags = {tag for key in call.keys for tag in re.findall(r"\{[^}]*\}", key)}
        assert len(tags) <= 1, f"{call.script.name}: keys on several slots {call.keys}"


def test_the_settle_outcome_codes_are_documented_in_the_script() -> None:
    header = "\n".join(_header("settle"))
    for outcome in SettleOutcome:
        assert re.search(rf"^--   '{outcome.value}' ", header, re.MULTILINE), outcome


def test_a_new_message_has_as_many_values_as_the_script_reads() -> None:
    text = lua.file_text("include/messages")
    reader = text[text.index("local function read_message") :].split("\nend", 1)[0]
    offsets = {int(n) for n in re.findall(r"ARGV\[i \+ (\d+)\]", reader)} | {0}
    assert offsets == set(range(len(_NEW.argv())))
    assert f"i + {len(_NEW.argv())}" in reader  # where the next value starts


def test_shard_keys_follow_the_layout() -> None:
    sk = Keys("herald", 8).shard(5)
    assert sk.base == "herald:{5}:"
    assert sk.message("msg_1") == "herald:{5}:m:msg_1"
    assert sk.queue_wait_prefix == "herald:{5}:qw:"
    fields = set(ShardKeys.__dataclass_fields__) - {"base"}
    assert fields == set(SHARD_LAYOUT)


def test_the_lua_layout_is_the_python_one() -> None:
    table = lua.layout()
    pairs = dict(re.findall(r"^  (\w+) = '([^']*)',$", table, re.MULTILINE))
    assert pairs == SHARD_LAYOUT


def test_includes_are_put_in_once_and_all_are_used() -> None:
    used = set()
    for name in lua.script_names():
        text = lua.assemble(name)
        assert "-- @include" not in text
        for include in re.findall(r"^-- begin include/(\w+)\.lua$", text, re.MULTILINE):
            assert text.count(f"-- begin include/{include}.lua") == 1, (name, include)
            used.add(include)
    assert used >= set(lua.include_names())


def test_luacheck_finds_nothing(tmp_path: Path) -> None:
    luacheck = shutil.which("luacheck")
    if luacheck is None:
        pytest.skip("luacheck is not on PATH (Debian package lua-check)")
    files = []
    for name in lua.script_names():  # as Redis runs them: includes put in
        path = tmp_path / f"{name}.lua"
        path.write_text(lua.assemble(name), encoding="utf-8")
        files.append(str(path))
    result = subprocess.run(
        [luacheck, "--config", str(ROOT / ".luacheckrc"), "--codes", "--no-color", *files],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_wheel_carries_every_lua_file() -> None:
    wheel = pytest.importorskip("hatchling.builders.wheel", reason="hatchling (build group)")
    shipped = {f.distribution_path for f in wheel.WheelBuilder(str(ROOT)).recurse_included_files()}
    lua_dir = ROOT / "gateway" / "herald_core" / "lua"
    wanted = {
        "herald_core/lua/" + p.relative_to(lua_dir).as_posix() for p in lua_dir.rglob("*.lua")
    }
    assert wanted and wanted <= shipped
