"""Lua scripts: every multi-key change to a shard is one atomic script (run by EVALSHA).

All keys a script touches share the shard's hash tag. Message keys are built inside the
scripts from a prefix passed in ARGV (as BullMQ does), which Redis Cluster accepts because
they hash to the same slot as the declared KEYS.
"""

from __future__ import annotations

# KEYS[1] due zset
# ARGV: message key prefix, then (id, metadata json, body, timeout ms, due ms) per message
# Stores each message hash and its first task; a batch of publishes costs one call.
ENQUEUE = """
for i = 2, #ARGV, 5 do
  redis.call('HSET', ARGV[1] .. ARGV[i], 'm', ARGV[i + 1], 'b', ARGV[i + 2], 'r', 0,
             't', ARGV[i + 3])
  redis.call('ZADD', KEYS[1], ARGV[i + 4], ARGV[i])
end
return (#ARGV - 1) / 5
"""

# KEYS[1] due zset, KEYS[2] lease zset
# ARGV: now ms, limit, lease margin ms, message key prefix
# 1. expired leases (crashed or stuck workers) go back to `due`, due now;
# 2. up to `limit` due tasks move to `lease` until now + their timeout + margin;
# returns {next due ms or -1, id1, meta1, body1, retried1, id2, ...}
CLAIM = """
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  redis.call('ZADD', KEYS[1], now, id)
  redis.call('ZREM', KEYS[2], id)
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {-1}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local f = redis.call('HMGET', ARGV[4] .. id, 'm', 'b', 'r', 't')
  if f[1] then
    redis.call('ZADD', KEYS[2], now + tonumber(f[4]) + tonumber(ARGV[3]), id)
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

# KEYS[1] due zset, KEYS[2] lease zset
# ARGV: message key prefix, then (op, id, arg) triples:
#   'A' acknowledged (delivered, or failed for good): the message is removed
#   'R' retry: arg = "<retried>:<due ms>"; skipped if the message is gone (cancelled)
#   'D' defer without spending an attempt: arg = due ms
SETTLE = """
for i = 2, #ARGV, 3 do
  local op, id, arg = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = ARGV[1] .. id
  redis.call('ZREM', KEYS[2], id)
  if op == 'A' then
    redis.call('DEL', key)
  elseif redis.call('EXISTS', key) == 1 then
    if op == 'R' then
      local sep = string.find(arg, ':', 1, true)
      redis.call('HSET', key, 'r', string.sub(arg, 1, sep - 1))
      redis.call('ZADD', KEYS[1], string.sub(arg, sep + 1), id)
    else
      redis.call('ZADD', KEYS[1], arg, id)
    end
  end
end
return 1
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
