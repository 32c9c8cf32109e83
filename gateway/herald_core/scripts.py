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
        return cls(source, hashlib.sha1(source.encode()).hexdigest())


# Shared by the scripts below.
# Flow control lives in the shard of its key (every message of a flow-control key is stored
# in the same shard), so limits hold across all gateways and every check is part of the
# script that claims or settles: no extra round trip, and Cluster-safe.
#   herald:{s}:fc:<key>   HASH  a: active deliveries, n: messages stored,
#                               delivered / failed: counters, paused: '1' holds every task
#   herald:{s}:fcr:<key>  ZSET  starts within the last rate period (a sliding window)
#   herald:{s}:fcw:<key>  ZSET  the key's waitlist: message id -> due (FIFO release)
#   herald:{s}:fck        SET   keys that have a waitlist (so "cancel all" finds them)
_STORE = """
local function tagged(prefix, kind) return string.sub(prefix, 1, #prefix - 2) .. kind end
local function flow_of(key)
  local k, p, q, w = string.match(key, '^(.*)\t(%d+)\t(%d+)\t(%d+)$')
  return k, tonumber(p), tonumber(q), tonumber(w)
end
-- store one new message: the 7 ARGV from `i`: id, metadata json, body, timeout ms,
-- due ms, log-the-body flag, flow control (key, parallelism, rate, period ms; tab-separated)
local function store(prefix, due, log, maxlen, i)
  local id = ARGV[i]
  redis.call('HSET', prefix .. id, 'm', ARGV[i + 1], 'b', ARGV[i + 2], 'r', 0, 't', ARGV[i + 3])
  if ARGV[i + 6] ~= '' then
    redis.call('HSET', prefix .. id, 'k', ARGV[i + 6])
    redis.call('HINCRBY', tagged(prefix, 'fc:') .. flow_of(ARGV[i + 6]), 'n', 1)
  end
  redis.call('ZADD', due, ARGV[i + 4], id)
  if ARGV[i + 5] == '1' then
    redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 's', 'CREATED', 'id', id,
               'm', ARGV[i + 1], 'b', ARGV[i + 2])
  else
    redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 's', 'CREATED', 'id', id, 'm', ARGV[i + 1])
  end
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
  end
end
"""

# KEYS[1] due zset, KEYS[2] log stream
# ARGV: message prefix, dedup prefix, log maxlen, then per message 9 values:
#   the 7 `store` takes, dedup key ('' = none), window ms
# Returns per message '' (stored) or the id of the earlier message it duplicates.
ENQUEUE = (
    _STORE
    + """
local out = {}
for i = 4, #ARGV, 9 do
  local existing = false
  if ARGV[i + 7] ~= '' then
    local dkey = ARGV[2] .. ARGV[i + 7]
    existing = redis.call('GET', dkey)
    if not existing then redis.call('SET', dkey, ARGV[i], 'PX', ARGV[i + 8]) end
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
# ARGV: now ms, limit, lease margin ms, message prefix, log maxlen
# 1. expired leases (crashed or stuck workers) go back to `due`, due now, freeing their
#    flow-control slot;
# 2. up to `limit` due tasks move to `lease` until now + their timeout + margin, each
#    logged ACTIVE — unless their flow-control key is at its parallelism (then they join
#    the key's waitlist, released when a slot frees) or rate (then they wait, in `due`,
#    for the rate window to end); returns
#    {next due ms or -1, id1, meta1, body1, retried1, id2, ...}
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
-- may this flow-controlled task start now? (takes a slot and a rate token if so)
-- The rate is a sliding window: at most `rate` starts within any `period`.
local function admit(id, flow)
  local key, parallelism, rate, period = flow_of(flow)
  local state = tagged(prefix, 'fc:') .. key
  local f = redis.call('HMGET', state, 'a', 'paused')
  local active = tonumber(f[1]) or 0
  if f[2] == '1' or (parallelism > 0 and active >= parallelism) then
    redis.call('ZADD', tagged(prefix, 'fcw:') .. key, now, id)
    redis.call('SADD', KEYS[4], key)
    return false
  end
  if rate > 0 then
    local starts = tagged(prefix, 'fcr:') .. key
    redis.call('ZREMRANGEBYSCORE', starts, '-inf', now - period)
    if redis.call('ZCARD', starts) >= rate then
      local oldest = redis.call('ZRANGE', starts, 0, 0, 'WITHSCORES')[2]
      redis.call('ZADD', KEYS[1], tonumber(oldest) + period, id)
      return false
    end
    redis.call('ZADD', starts, now, id)
    redis.call('PEXPIRE', starts, period)
  end
  redis.call('HSET', state, 'a', active + 1)
  return true
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {-1}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local f = redis.call('HMGET', prefix .. id, 'm', 'b', 'r', 't', 'k')
  if f[1] and (not f[5] or admit(id, f[5])) then
    redis.call('ZADD', KEYS[2], now + tonumber(f[4]) + tonumber(ARGV[3]), id)
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 's', 'ACTIVE', 'id', id,
               'm', f[1], 'r', f[3])
    out[#out + 1] = id
    out[#out + 1] = f[1]
    out[#out + 1] = f[2]
    out[#out + 1] = f[3]
  end
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if head[2] then out[1] = tonumber(head[2]) end
return out
"""
)

# KEYS[1] due zset, KEYS[2] lease zset, KEYS[3] log stream, KEYS[4] dlq index zset
# ARGV: message prefix, dlq prefix, log maxlen, now ms, then blocks of
#   op, id, arg, event json, k, then k new messages (7 values each, as `store` takes)
# ops (each a no-op when the message is gone, e.g. cancelled or settled by a racing worker):
#   'A' delivered: message removed, DELIVERED logged
#   'R' retry (arg "<retried>:<due ms>"): ERROR and RETRY logged, task due again
#   'F' failed for good (arg: dlq id): ERROR and FAILED logged, message moved to the DLQ
#   'D' defer without spending an attempt (arg: due ms)
# New messages (callbacks) are stored only when the op took effect.
SETTLE = (
    _STORE
    + """
local prefix, maxlen, now = ARGV[1], ARGV[3], ARGV[4]
local function count(stats, outcome)
  redis.call('HINCRBY', stats, outcome, 1)
  redis.call('HINCRBY', stats, 'n', -1)
end
local function row(state, id, m, r, extra, x)
  if extra then
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', 's', state, 'id', id, 'm', m,
               'r', r, 'x', x, 'n', extra)
  else
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', 's', state, 'id', id, 'm', m,
               'r', r, 'x', x)
  end
end
local i = 5
while i <= #ARGV do
  local op, id, arg, x, k = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
  local key = prefix .. id
  local done = false
  local leased = redis.call('ZREM', KEYS[2], id) == 1
  local f = redis.call('HMGET', key, 'm', 'r', 'k')
  if f[1] then
    done = true
    if f[3] and leased then release(prefix, KEYS[1], f[3], now) end
    local stats = f[3] and tagged(prefix, 'fc:') .. flow_of(f[3])
    if op == 'A' then
      redis.call('DEL', key)
      row('DELIVERED', id, f[1], f[2], false, x)
      if stats then count(stats, 'delivered') end
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
    if done then store(prefix, KEYS[1], KEYS[3], maxlen, i + 5 + j * 7) end
  end
  i = i + 5 + k * 7
end
return 1
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
  local f = redis.call('HMGET', ARGV[1] .. id, 'm', 'r', 'k')
  if f[1] then
    redis.call('DEL', ARGV[1] .. id)
    redis.call('ZREM', KEYS[1], id)
    local leased = redis.call('ZREM', KEYS[2], id) == 1
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
# (the claim script waitlists them); resuming makes the whole waitlist due, in order.
FLOW_PAUSE = """
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
