"""Lua scripts: every multi-key change to a shard is one atomic script (run by EVALSHA).

All keys a script touches share the shard's hash tag. Message, DLQ and dedup keys are built
inside the scripts from prefixes passed in ARGV (as BullMQ does), which Redis Cluster accepts
because they hash to the same slot as the declared KEYS. Every state change appends its log
row to the shard's stream in the same script, so a row exists exactly when the change does
(one DELIVERED row per delivered message, even when two workers raced).

Log rows (stream fields): s state, id message id, m metadata JSON, b body (CREATED only,
when small), r retries done, n next delivery (ms), x event JSON (error, response).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script and its SHA-1, as EVALSHA takes it."""

    source: str
    sha: str

    @classmethod
    def of(cls, source: str) -> Script:
        """The script for `source`, registered so that `registered()` lists it."""
        script = cls(source, hashlib.sha1(source.encode()).hexdigest())
        _REGISTRY.setdefault(script.sha, script)
        return script


_REGISTRY: dict[str, Script] = {}


def registered() -> tuple[Script, ...]:
    """Every script in use: what a Redis that lost its script cache is given again."""
    return tuple(_REGISTRY.values())


# Shared by the scripts below.
# Flow control lives in the shard of its key (every message of a flow-control key is stored
# in the same shard), so limits hold across all gateways and every check is part of the
# script that claims or settles: no extra round trip, and Cluster-safe.
#   herald:{s}:fc:<key>   HASH  a: active deliveries, n: messages stored,
#                               delivered / failed: counters, paused: '1' holds every task,
#                               e: failed attempts, le / lt: the last one's error and ms,
#                               ld: ms of the last delivery,
#                               cf: ms of the first claim since an attempt last ended
#                               (the operator's delivery health: herald_core.delivery_stats),
#                               cp / cr / cw: parallelism, rate, period ms in force (the
#                               latest message's, unless pinned: pp / pr = '1')
#   herald:{s}:fcr:<key>  ZSET  starts within the last rate period (a sliding window)
#   herald:{s}:fcw:<key>  ZSET  the key's waitlist: message id -> due (FIFO release)
#   herald:{s}:fck        SET   keys that have a waitlist (so "cancel all" finds them)
#   herald:{s}:fcs        SET   every key of the shard (GET /v2/flowControl)
# Queues (`pump` below):
#   herald:{s}:q:<name>   HASH  p: parallelism, paused, a: messages holding a slot,
#                               n: messages not yet finished (lag), seq, c / u: created /
#                               updated ms
#   herald:{s}:qw:<name>  ZSET  messages waiting for a slot, in arrival order (seq)
#   herald:{s}:qk         SET   the shard's queue names
_STORE = """
local function tagged(prefix, kind) return string.sub(prefix, 1, #prefix - 2) .. kind end
-- ids `pump` and `release` just made due (a slot freed): SETTLE hands them to its worker
local freed = {}
local function flow_of(key)
  local k, p, q, w = string.match(key, '^(.*)\t(%d+)\t(%d+)\t(%d+)$')
  return k, tonumber(p), tonumber(q), tonumber(w)
end
-- A queue's messages start in its FIFO waitlist; `pump` moves the oldest to `due` while
-- fewer than `parallelism` hold a slot. A message holds its slot from then until it is
-- delivered, failed or cancelled — across its retries — so parallelism 1 is strict order.
local function pump(prefix, due, name, now)
  local q = tagged(prefix, 'q:') .. name
  local f = redis.call('HMGET', q, 'p', 'a', 'paused')
  if f[3] == '1' then return end
  local free = (tonumber(f[1]) or 1) - (tonumber(f[2]) or 0)
  if free <= 0 then return end
  local waiting = tagged(prefix, 'qw:') .. name
  local ids = redis.call('ZRANGE', waiting, 0, free - 1)
  for _, id in ipairs(ids) do
    redis.call('ZREM', waiting, id)
    redis.call('ZADD', due, now, id)
    freed[#freed + 1] = id
  end
  redis.call('HINCRBY', q, 'a', #ids)
end
-- a queue's message is finished (delivered, failed or cancelled while holding a slot)
local function queue_done(prefix, due, name, now)
  local q = tagged(prefix, 'q:') .. name
  if redis.call('EXISTS', q) == 0 then return end  -- the queue was deleted meanwhile
  if tonumber(redis.call('HINCRBY', q, 'a', -1)) < 0 then redis.call('HSET', q, 'a', 0) end
  if tonumber(redis.call('HINCRBY', q, 'n', -1)) < 0 then redis.call('HSET', q, 'n', 0) end
  pump(prefix, due, name, now)
end
-- A queue message's callbacks hold its slot until they are delivered or fail too (QStash
-- waits for them): its queue keeps h:<message id> = callbacks left, and each callback
-- carries qh = "<queue>\t<message id>".
local function hold_done(prefix, due, holder, now)
  local name, origin = string.match(holder, '^(.*)\t([^\t]*)$')
  local q = tagged(prefix, 'q:') .. name
  if redis.call('EXISTS', q) == 0 then return end
  if tonumber(redis.call('HINCRBY', q, 'h:' .. origin, -1)) <= 0 then
    redis.call('HDEL', q, 'h:' .. origin)
    queue_done(prefix, due, name, now)
  end
end
-- Activity counters (herald_core.activity): per shard and hour, a hash of
-- "<state>:<10 s slot>" -> log rows written; the time is the log entry's id
local function tick(prefix, state, entry)
  local ms = tonumber(string.match(entry, '^(%d+)'))
  local key = tagged(prefix, 'st:') .. math.floor(ms / 3600000)
  if redis.call('HINCRBY', key, state .. ':' .. math.floor(ms / 10000), 1) == 1 then
    redis.call('PEXPIRE', key, 90000000)  -- 25 h
  end
end
-- store one new message: the 8 ARGV from `i`: id, metadata json, body, timeout ms,
-- due ms, log-the-body flag, flow control (key, parallelism, rate, period ms; tab-separated),
-- queue name ('' = none; the message then waits in the queue, created on first use)
local function store(prefix, due, log, maxlen, i)
  local id = ARGV[i]
  redis.call('HSET', prefix .. id, 'm', ARGV[i + 1], 'b', ARGV[i + 2], 'r', 0, 't', ARGV[i + 3])
  if ARGV[i + 6] ~= '' then
    redis.call('HSET', prefix .. id, 'k', ARGV[i + 6])
    local key, parallelism, rate, period = flow_of(ARGV[i + 6])
    local state = tagged(prefix, 'fc:') .. key
    redis.call('HINCRBY', state, 'n', 1)
    redis.call('SADD', tagged(prefix, 'fcs'), key)
    local pins = redis.call('HMGET', state, 'pp', 'pr')
    if pins[1] ~= '1' then redis.call('HSET', state, 'cp', parallelism) end
    if pins[2] ~= '1' then redis.call('HSET', state, 'cr', rate, 'cw', period) end
  end
  local queue = ARGV[i + 7]
  if queue ~= '' then
    local q = tagged(prefix, 'q:') .. queue
    redis.call('HSET', prefix .. id, 'q', queue)
    if redis.call('HSETNX', q, 'c', ARGV[i + 4]) == 1 then
      redis.call('HSET', q, 'p', 1, 'u', ARGV[i + 4])
      redis.call('SADD', tagged(prefix, 'qk'), queue)
    end
    redis.call('HINCRBY', q, 'n', 1)
    local seq = redis.call('HINCRBY', q, 'seq', 1)
    redis.call('ZADD', tagged(prefix, 'qw:') .. queue, seq, id)
    pump(prefix, due, queue, ARGV[i + 4])
  else
    redis.call('ZADD', due, ARGV[i + 4], id)
  end
  local entry
  if ARGV[i + 5] == '1' then
    entry = redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 's', 'CREATED', 'id', id,
                       'm', ARGV[i + 1], 'b', ARGV[i + 2])
  else
    entry = redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 's', 'CREATED', 'id', id,
                       'm', ARGV[i + 1])
  end
  tick(prefix, 'CREATED', entry)
end
-- an attempt of a flow-controlled message ended: free its slot, wake the next in line
local function release(prefix, due, flow, now)
  local key = flow_of(flow)
  local state = tagged(prefix, 'fc:') .. key
  if tonumber(redis.call('HINCRBY', state, 'a', -1)) < 0 then redis.call('HSET', state, 'a', 0) end
  local waiting = tagged(prefix, 'fcw:') .. key
  local next_id = redis.call('ZRANGE', waiting, 0, 0)[1]
  if next_id then
    redis.call('ZREM', waiting, next_id)
    redis.call('ZADD', due, now, next_id)
    freed[#freed + 1] = next_id
  end
end
-- may this flow-controlled task start now? (takes a slot and a rate token if so; else it
-- joins the key's waitlist, or waits in `due` for the rate window to move)
-- The rate is a sliding window: at most `rate` starts within any `period`.
local function admit(prefix, due, flow_keys, id, flow, now)
  local key = flow_of(flow)
  local state = tagged(prefix, 'fc:') .. key
  local f = redis.call('HMGET', state, 'a', 'paused', 'cp', 'cr', 'cw')
  local active = tonumber(f[1]) or 0
  local parallelism, rate = tonumber(f[3]) or 0, tonumber(f[4]) or 0
  local period = tonumber(f[5]) or 1000
  if f[2] == '1' or (parallelism > 0 and active >= parallelism) then
    redis.call('ZADD', tagged(prefix, 'fcw:') .. key, now, id)
    redis.call('SADD', flow_keys, key)
    return false
  end
  if rate > 0 then
    local starts = tagged(prefix, 'fcr:') .. key
    redis.call('ZREMRANGEBYSCORE', starts, '-inf', now - period)
    if redis.call('ZCARD', starts) >= rate then
      local oldest = redis.call('ZRANGE', starts, 0, 0, 'WITHSCORES')[2]
      redis.call('ZADD', due, tonumber(oldest) + period, id)
      return false
    end
    redis.call('ZADD', starts, now, id)
    redis.call('PEXPIRE', starts, period)
  end
  redis.call('HSET', state, 'a', active + 1)
  return true
end
-- claim one due task: leased until now + lease ms (the worker renews it while the attempt
-- runs: RENEW) and logged ACTIVE, unless its flow-control key says wait; appends id,
-- metadata, body, retries done to `out`
local function take(prefix, due, lease, log, flow_keys, id, now, lease_ms, maxlen, out)
  redis.call('ZREM', due, id)
  local f = redis.call('HMGET', prefix .. id, 'm', 'b', 'r', 'k')
  if f[1] and (not f[4] or admit(prefix, due, flow_keys, id, f[4], now)) then
    if f[4] then redis.call('HSETNX', tagged(prefix, 'fc:') .. flow_of(f[4]), 'cf', now) end
    redis.call('ZADD', lease, now + lease_ms, id)
    redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 's', 'ACTIVE', 'id', id,
               'm', f[1], 'r', f[3])
    out[#out + 1] = id
    out[#out + 1] = f[1]
    out[#out + 1] = f[2]
    out[#out + 1] = f[3]
  end
end
"""

# KEYS[1] due zset, KEYS[2] log stream
# ARGV: message prefix, dedup prefix, log maxlen, then per message 10 values:
#   the 8 `store` takes, dedup key ('' = none), window ms
# Returns per message '' (stored) or the id of the earlier message it duplicates.
ENQUEUE = (
    _STORE
    + """
local out = {}
for i = 4, #ARGV, 10 do
  local existing = false
  if ARGV[i + 8] ~= '' then
    local dkey = ARGV[2] .. ARGV[i + 8]
    existing = redis.call('GET', dkey)
    if not existing then redis.call('SET', dkey, ARGV[i], 'PX', ARGV[i + 9]) end
  end
  if existing then
    out[#out + 1] = existing
  else
    store(ARGV[1], KEYS[1], KEYS[2], ARGV[3], i)
    out[#out + 1] = ''
  end
end
return out
"""
)

# KEYS[1] due zset, KEYS[2] lease zset, KEYS[3] log stream, KEYS[4] flow keys set
# ARGV: now ms, limit, lease ms, message prefix, log maxlen
# 1. expired leases (crashed or stuck workers) go back to `due`, due now, freeing their
#    flow-control slot;
# 2. up to `limit` due tasks move to `lease` until now + lease ms, each
#    logged ACTIVE — unless their flow-control key is at its parallelism (then they join
#    the key's waitlist, released when a slot frees) or rate (then they wait, in `due`,
#    for the rate window to end); returns
#    {next due ms or -1, id1, meta1, body1, retried1, id2, ...}; the next due time is
#    the earliest of the next waiting task and the next lease to run out (a crashed
#    worker's tasks come back then, without waiting for the safety-net poll)
CLAIM = (
    _STORE
    + """
local now = tonumber(ARGV[1])
local prefix = ARGV[4]
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  redis.call('ZADD', KEYS[1], now, id)
  redis.call('ZREM', KEYS[2], id)
  local flow = redis.call('HGET', prefix .. id, 'k')
  if flow then release(prefix, KEYS[1], flow, now) end
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {-1}
for _, id in ipairs(ids) do
  take(prefix, KEYS[1], KEYS[2], KEYS[3], KEYS[4], id, now, tonumber(ARGV[3]), ARGV[5], out)
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if head[2] then out[1] = tonumber(head[2]) end
local lease = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if lease[2] and (out[1] < 0 or tonumber(lease[2]) < out[1]) then out[1] = tonumber(lease[2]) end
return out
"""
)

# KEYS[1] lease zset
# ARGV: new expiry ms, then pairs of (id, the expiry its holder last set) — the heartbeat
# of a worker's in-flight tasks: each lease is moved to the new expiry only if it still
# ends where its holder left it. A lease that expired meanwhile went back to `due` (and
# may be another worker's now, ending elsewhere: expiries only grow), so it is never
# taken back. Returns the ids renewed.
RENEW = """
local out = {}
for i = 2, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i])
    out[#out + 1] = ARGV[i]
  end
end
return out
"""

# KEYS[1] due zset, KEYS[2] lease zset, KEYS[3] log stream, KEYS[4] dlq index zset,
# KEYS[5] flow keys set
# ARGV: message prefix, dlq prefix, log maxlen, now ms, lease ms, hand-offs, then
#   blocks of op, id, arg, event json, k, then k new messages (8 values each, as `store`
#   takes)
# ops (each a no-op when the message is gone, e.g. cancelled or settled by a racing worker):
#   'A' delivered: message removed, DELIVERED logged
#   'R' retry (arg "<retried>:<due ms>"): ERROR and RETRY logged, task due again
#   'F' failed for good (arg: dlq id): ERROR and FAILED logged, message moved to the DLQ
#   'D' defer without spending an attempt (arg: due ms)
# New messages (callbacks) are stored only when the op took effect.
# Hand-off: an outcome that frees a flow-control or queue slot makes the next message in
# line due; up to `hand-offs` of those are claimed here for the settling worker (whose
# finished deliveries freed the slots), saving it a claim round trip. Returns them as
# CLAIM does: {id1, meta1, body1, retried1, ...}.
SETTLE = (
    _STORE
    + """
local prefix, maxlen, now = ARGV[1], ARGV[3], tonumber(ARGV[4])
local function count(stats, outcome)
  redis.call('HINCRBY', stats, outcome, 1)
  redis.call('HINCRBY', stats, 'n', -1)
end
-- an attempt failed: counted, with its error (for the operator's Degraded condition)
local function errored(stats, x)
  local ok, ev = pcall(cjson.decode, x)
  local err = ok and type(ev) == 'table' and ev.error
  if type(err) ~= 'string' then err = 'failed' end
  redis.call('HINCRBY', stats, 'e', 1)
  redis.call('HSET', stats, 'le', string.sub(err, 1, 200), 'lt', now)
end
local function row(state, id, m, r, extra, x)
  local entry
  if extra then
    entry = redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', 's', state, 'id', id,
                       'm', m, 'r', r, 'x', x, 'n', extra)
  else
    entry = redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', 's', state, 'id', id,
                       'm', m, 'r', r, 'x', x)
  end
  if state ~= 'RETRY' then tick(prefix, state, entry) end
end
local i = 7
while i <= #ARGV do
  local op, id, arg, x, k = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
  local key = prefix .. id
  local done, holder = false, false
  local leased = redis.call('ZREM', KEYS[2], id) == 1
  local f = redis.call('HMGET', key, 'm', 'r', 'k', 'q', 'qh')
  if f[1] then
    done = true
    if f[4] and (op == 'A' or op == 'F') then
      local q = tagged(prefix, 'q:') .. f[4]
      if k > 0 and redis.call('EXISTS', q) == 1 then  -- its callbacks keep the slot
        redis.call('HSET', q, 'h:' .. id, k)
        holder = f[4] .. '\t' .. id
      else
        queue_done(prefix, KEYS[1], f[4], now)
      end
    end
    if f[5] and (op == 'A' or op == 'F') then hold_done(prefix, KEYS[1], f[5], now) end
    if f[3] and leased then release(prefix, KEYS[1], f[3], now) end
    local stats = f[3] and tagged(prefix, 'fc:') .. flow_of(f[3])
    if stats and op ~= 'D' then redis.call('HDEL', stats, 'cf') end
    if stats and (op == 'R' or op == 'F') then errored(stats, x) end
    if op == 'A' then
      redis.call('DEL', key)
      row('DELIVERED', id, f[1], f[2], false, x)
      if stats then
        count(stats, 'delivered')
        redis.call('HSET', stats, 'ld', now)
      end
    elseif op == 'R' then
      local sep = string.find(arg, ':', 1, true)
      local due = string.sub(arg, sep + 1)
      redis.call('HSET', key, 'r', string.sub(arg, 1, sep - 1))
      redis.call('ZADD', KEYS[1], due, id)
      row('ERROR', id, f[1], f[2], false, x)
      row('RETRY', id, f[1], f[2], due, x)
    elseif op == 'F' then
      row('ERROR', id, f[1], f[2], false, x)
      row('FAILED', id, f[1], f[2], false, x)
      if stats then count(stats, 'failed') end
      local dkey = ARGV[2] .. arg
      redis.call('RENAME', key, dkey)
      redis.call('HSET', dkey, 'x', x, 'f', now)
      redis.call('ZADD', KEYS[4], now, arg)
    else
      redis.call('ZADD', KEYS[1], arg, id)
    end
  end
  for j = 0, k - 1 do
    if done then
      store(prefix, KEYS[1], KEYS[3], maxlen, i + 5 + j * 8)
      if holder then redis.call('HSET', prefix .. ARGV[i + 5 + j * 8], 'qh', holder) end
    end
  end
  i = i + 5 + k * 8
end
local out = {}
for n = 1, math.min(tonumber(ARGV[6]), #freed) do
  if redis.call('ZSCORE', KEYS[1], freed[n]) then
    take(prefix, KEYS[1], KEYS[2], KEYS[3], KEYS[5], freed[n], now, tonumber(ARGV[5]), maxlen,
         out)
  end
end
return out
"""
)

# KEYS[1] due zset, KEYS[2] lease zset, KEYS[3] log stream
# ARGV: message prefix, log maxlen, now ms, ids... — remove each message still stored
# (waiting, delayed, retrying, waitlisted or in flight), logging CANCEL_REQUESTED and
# CANCELED; returns the count.
CANCEL = (
    _STORE
    + """
local n = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local f = redis.call('HMGET', ARGV[1] .. id, 'm', 'r', 'k', 'q', 'qh')
  if f[1] then
    redis.call('DEL', ARGV[1] .. id)
    if f[5] then hold_done(ARGV[1], KEYS[1], f[5], ARGV[3]) end
    redis.call('ZREM', KEYS[1], id)
    local leased = redis.call('ZREM', KEYS[2], id) == 1
    if f[4] then
      if redis.call('ZREM', tagged(ARGV[1], 'qw:') .. f[4], id) == 1 then
        redis.call('HINCRBY', tagged(ARGV[1], 'q:') .. f[4], 'n', -1)
      else
        queue_done(ARGV[1], KEYS[1], f[4], ARGV[3])
      end
    end
    if f[3] then
      local key = flow_of(f[3])
      redis.call('ZREM', tagged(ARGV[1], 'fcw:') .. key, id)
      redis.call('HINCRBY', tagged(ARGV[1], 'fc:') .. key, 'n', -1)
      if leased then release(ARGV[1], KEYS[1], f[3], ARGV[3]) end
    end
    for _, state in ipairs({'CANCEL_REQUESTED', 'CANCELED'}) do
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 's', state, 'id', id,
                 'm', f[1], 'r', f[2])
    end
    n = n + 1
  end
end
return n
"""
)

# KEYS[1] flow-control state hash, KEYS[2] its waitlist, KEYS[3] due zset
# ARGV: '1' to pause or '0' to resume, now ms — a paused key accepts and keeps messages
# (the claim script waitlists them); resuming a paused key makes the whole waitlist due, in
# order. Asking for the state the key is in already writes nothing (a key never paused is
# resumed): the waitlist of a key at its parallelism cap is then left to the slots.
FLOW_PAUSE = """
if (redis.call('HGET', KEYS[1], 'paused') or '0') == ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'paused', ARGV[1])
if ARGV[1] == '1' then return 0 end
local waiting = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #waiting, 2 do
  redis.call('ZADD', KEYS[3], math.max(tonumber(waiting[i + 1]), tonumber(ARGV[2])), waiting[i])
end
redis.call('DEL', KEYS[2])
return #waiting / 2
"""

# KEYS[1] dlq index zset; ARGV: dlq prefix, dlq ids... — returns how many existed.
DLQ_DELETE = """
local n = 0
for i = 2, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('DEL', ARGV[1] .. ARGV[i])
    n = n + 1
  end
end
return n
"""

# KEYS[1] due zset, KEYS[2] log stream, KEYS[3] dlq index zset
# ARGV: message prefix, dlq prefix, log maxlen, dlq id, then one new message as `store`
# takes it, whose body placeholder is replaced by the dead letter's body.
# Returns 1, or 0 when the dead letter is gone.
DLQ_RETRY = (
    _STORE
    + """
local dkey = ARGV[2] .. ARGV[4]
if redis.call('ZREM', KEYS[3], ARGV[4]) == 0 then return 0 end
ARGV[7] = redis.call('HGET', dkey, 'b') or ''
redis.call('DEL', dkey)
store(ARGV[1], KEYS[1], KEYS[2], ARGV[3], 5)
return 1
"""
)

# KEYS[1] log stream, KEYS[2] dlq index zset
# ARGV: oldest log id to keep (ms), oldest dead letter to keep (ms), dlq prefix
# Retention: trims the log stream by age and drops expired dead letters (1,000 a call).
JANITOR = """
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2], 'LIMIT', 0, 1000)
for _, id in ipairs(old) do
  redis.call('DEL', ARGV[3] .. id)
  redis.call('ZREM', KEYS[2], id)
end
return #old
"""

# KEYS[1] signing keys hash
# ARGV: seed, current, next — install (current, next) unless the stored seed matches
LOAD_KEYS = """
if redis.call('HGET', KEYS[1], 'seed') ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'seed', ARGV[1], 'current', ARGV[2], 'next', ARGV[3])
end
return redis.call('HMGET', KEYS[1], 'current', 'next')
"""

# KEYS[1] signing keys hash; ARGV: a fresh key — current := next, next := fresh
ROTATE_KEYS = """
local nxt = redis.call('HGET', KEYS[1], 'next')
redis.call('HSET', KEYS[1], 'current', nxt, 'next', ARGV[1])
return {nxt, ARGV[1]}
"""

# KEYS[1] due zset
# ARGV: message prefix, queue name, parallelism ('' = keep), paused ('1', '0', '' = keep),
#   now ms, '1' to create a missing queue (else a missing queue is left alone)
# Creates or updates a queue and starts what its free slots allow; returns 0 if missing.
QUEUE_SET = (
    _STORE
    + """
local prefix, name, now = ARGV[1], ARGV[2], ARGV[5]
local q = tagged(prefix, 'q:') .. name
if redis.call('EXISTS', q) == 0 then
  if ARGV[6] ~= '1' then return 0 end
  redis.call('HSET', q, 'c', now, 'p', 1, 'n', 0, 'a', 0)
  redis.call('SADD', tagged(prefix, 'qk'), name)
end
redis.call('HSET', q, 'u', now)
if ARGV[3] ~= '' then redis.call('HSET', q, 'p', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', q, 'paused', ARGV[4]) end
pump(prefix, KEYS[1], name, now)
return 1
"""
)

# KEYS[1] log stream
# ARGV: message prefix, queue name, log maxlen — deletes the queue: messages still waiting
# for a slot are cancelled (logged), ones already started finish; returns how many were
# cancelled.
QUEUE_DELETE = """
local function tagged(prefix, kind) return string.sub(prefix, 1, #prefix - 2) .. kind end
local prefix, name = ARGV[1], ARGV[2]
local waiting = tagged(prefix, 'qw:') .. name
local ids = redis.call('ZRANGE', waiting, 0, -1)
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', prefix .. id, 'm', 'r')
  if f[1] then
    redis.call('DEL', prefix .. id)
    for _, state in ipairs({'CANCEL_REQUESTED', 'CANCELED'}) do
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 's', state, 'id', id,
                 'm', f[1], 'r', f[2])
    end
  end
end
redis.call('DEL', waiting, tagged(prefix, 'q:') .. name)
redis.call('SREM', tagged(prefix, 'qk'), name)
return #ids
"""

# KEYS[1] flow-control state hash, KEYS[2] its rate window zset
# ARGV: parallelism, rate, period ms ('' = leave that one alone)
# Pins the given limits (messages no longer change them) and starts a fresh rate period.
FLOW_PIN = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'cp', ARGV[1], 'pp', '1') end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'cr', ARGV[2], 'pr', '1') end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'cw', ARGV[3], 'pr', '1') end
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS[1] global grants hash, KEYS[2] grant expiry zset
# ARGV: worker id, slots wanted, slots in use, cap (0 = none), now ms, expiry ms
# Global parallelism: each worker asks for the slots it wants; grants never sum above the
# cap, and a worker holds more than its fair share (cap / live workers) only for slots it
# is using or no other worker holds. A worker that stops renewing loses its grant when it
# expires. Returns {granted, slots in use across workers}.
GRANT = """
local now = tonumber(ARGV[5])
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('HDEL', KEYS[1], gone)
  redis.call('ZREM', KEYS[2], gone)
end
local cap, wanted = tonumber(ARGV[4]), tonumber(ARGV[2])
local others, used = 0, tonumber(ARGV[3])
local grants = redis.call('HGETALL', KEYS[1])
for i = 1, #grants, 2 do
  if grants[i] ~= ARGV[1] then
    local g, u = string.match(grants[i + 1], '^(%d+):(%d+)$')
    others = others + tonumber(g)
    used = used + tonumber(u)
  end
end
local live = #grants / 2
if not redis.call('HGET', KEYS[1], ARGV[1]) then live = live + 1 end
local granted = wanted
if cap > 0 then
  local fair = math.max(tonumber(ARGV[3]), math.ceil(cap / live))
  granted = math.max(0, math.min(wanted, cap - others, fair))
end
redis.call('HSET', KEYS[1], ARGV[1], granted .. ':' .. ARGV[3])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), ARGV[1])
return {granted, used}
"""

# Schedules (herald_core.schedules): one `{sched}` hash tag.
# KEYS[1] due zset (schedule id -> next tick ms)
# ARGV: now ms, lease ms, limit, schedule hash prefix — claims due ticks: each moves to
# now + lease, so no other gateway takes it meanwhile (and it comes back if this one dies
# before recording it). Returns {next tick left or -1, id1, tick1, hash1, id2, ...}
# (each hash as HGETALL gives it).
SCHEDULE_CLAIM = """
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, ARGV[3])
local out = {-1}
for i = 1, #due, 2 do
  if redis.call('EXISTS', ARGV[4] .. due[i]) == 1 then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), due[i])
    out[#out + 1] = due[i]
    out[#out + 1] = due[i + 1]
    out[#out + 1] = redis.call('HGETALL', ARGV[4] .. due[i])
  else
    redis.call('ZREM', KEYS[1], due[i])
  end
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if head[2] then out[1] = head[2] end
return out
"""

# KEYS[1] schedule hash, KEYS[2] due zset
# ARGV: version claimed, schedule id, tick fired ms ('' = skipped, paused), next tick ms,
#   last states JSON ('' = keep), error ('' = none)
# Records a fired (or skipped) tick and sets the next one — unless the schedule was deleted
# or replaced since the claim. Returns 1 if recorded.
SCHEDULE_DONE = """
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'l', ARGV[3]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'st', ARGV[5]) end
redis.call('HSET', KEYS[1], 'n', ARGV[4], 'e', ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
return 1
"""

# KEYS[1] schedule hash, KEYS[2] due zset
# ARGV: schedule id, definition JSON, body, version, first tick ms, paused '1'/'0'
# ('' definition: delete the schedule)
SCHEDULE_PUT = """
redis.call('DEL', KEYS[1])
if ARGV[2] == '' then
  return redis.call('ZREM', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[1], 'j', ARGV[2], 'b', ARGV[3], 'v', ARGV[4], 'n', ARGV[5],
           'paused', ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return 1
"""

# KEYS[1] schedule hash; ARGV: '1' pause or '0' resume — returns 0 if there is no schedule
SCHEDULE_PAUSE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'paused', ARGV[1])
return 1
"""
