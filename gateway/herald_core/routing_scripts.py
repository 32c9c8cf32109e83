"""Lua scripts of the routing tables (layout in herald_core.keys). Every change bumps the
version key and announces the table's id on the pub/sub channel, in the same script, so a
gateway that hears nothing still sees the new version on its next periodic read.
"""

from __future__ import annotations

# KEYS[1] table hash, KEYS[2] topics set, KEYS[3] version
# ARGV: channel, topic id, mode ('replace' | 'merge'), guard, n, n fields to delete,
#       then field/value pairs.
# guard '' = write unconditionally; '-' = only if the table has no `topic` field yet;
# anything else = only if the `topic` field still holds exactly that value (optimistic
# concurrency for the URL-group API). Returns the new version, or -1 when the guard failed.
PUT_TABLE = """
local guard = ARGV[4]
if guard ~= '' then
  local current = redis.call('HGET', KEYS[1], 'topic')
  if guard == '-' then
    if current then return -1 end
  elseif current ~= guard then
    return -1
  end
end
if ARGV[3] == 'replace' then redis.call('DEL', KEYS[1]) end
local n = tonumber(ARGV[5])
for i = 6, 5 + n do redis.call('HDEL', KEYS[1], ARGV[i]) end
for i = 6 + n, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if redis.call('HEXISTS', KEYS[1], 'topic') == 1 then
  redis.call('SADD', KEYS[2], ARGV[2])
else
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
local version = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return version
"""

# KEYS[1] table hash, KEYS[2] topics set, KEYS[3] version
# ARGV: channel, topic id, guard ('' or the `topic` field value it must hold),
#       owner ('' = any; 'crd' or 'api' = only a table that owner manages, or none)
# Deletes the table; -1 when the guard or the owner did not hold, else the new version.
DROP_TABLE = """
local topic = redis.call('HGET', KEYS[1], 'topic')
if ARGV[3] ~= '' and topic ~= ARGV[3] then return -1 end
if ARGV[4] ~= '' and topic and (cjson.decode(topic).managed or 'crd') ~= ARGV[4] then
  return -1
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
local version = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return version
"""

# KEYS[1] table hash, KEYS[2] version
# ARGV: channel, topic id, field, value ('' removes the field)
# One subscription's entry, written only while its topic's table exists and is managed by
# the operator (a URL group of the API with the same name is left alone).
# Returns 0 when there is no such table (nothing written), else the new version.
PUT_ENTRY = """
local topic = redis.call('HGET', KEYS[1], 'topic')
if topic and cjson.decode(topic).managed == 'api' then return 0 end
if ARGV[4] ~= '' and not topic then return 0 end
if ARGV[4] == '' then
  if redis.call('HDEL', KEYS[1], ARGV[3]) == 0 then return redis.call('GET', KEYS[2]) or 1 end
else
  if redis.call('HGET', KEYS[1], ARGV[3]) == ARGV[4] then
    return redis.call('GET', KEYS[2]) or 1
  end
  redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
end
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return version
"""

# KEYS[1] tokens hash, KEYS[2] version
# ARGV: channel, owner (<ns>/<secret>), then the token hashes the owner holds now
# Removes the owner's other hashes (and only the owner's), then records the given ones.
SYNC_TOKENS = """
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i + 1] == ARGV[2] then redis.call('HDEL', KEYS[1], all[i]) end
end
for i = 3, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], ARGV[2]) end
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], 'tokens')
return version
"""
