"""Lua scripts of the routing tables (layout in herald_core.keys). Every change bumps the
version key and announces the table's id on the pub/sub channel, in the same script, so a
gateway that hears nothing still sees the new version on its next periodic read.

The operator's scripts (SYNC_TABLE, PUT_ENTRY, SYNC_TOKENS) compare before they write: a
re-assert of what Redis holds already runs only read commands, bumps no version and
announces nothing, so a quiet cluster costs Redis and the gateways nothing.
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
# Returns 0 when there is no such table (nothing written), 1 when the entry was as asked
# already (nothing written, no version bump), 2 when it was written or removed.
PUT_ENTRY = """
local topic = redis.call('HGET', KEYS[1], 'topic')
if topic and cjson.decode(topic).managed == 'api' then return 0 end
if ARGV[4] ~= '' and not topic then return 0 end
if ARGV[4] == '' then
  if redis.call('HEXISTS', KEYS[1], ARGV[3]) == 0 then return 1 end
  redis.call('HDEL', KEYS[1], ARGV[3])
else
  if redis.call('HGET', KEYS[1], ARGV[3]) == ARGV[4] then return 1 end
  redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
end
redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 2
"""

# KEYS[1] table hash, KEYS[2] topics set, KEYS[3] version
# ARGV: channel, topic id, topic JSON, then field/value pairs of every entry it must hold
# Makes the table hold exactly this topic and these entries, field by field: an equal field
# is not touched, a differing one is set, an entry not listed is removed (a Subscription
# deleted while no operator ran; the caller lists every live one). Nothing differs: only
# reads, no version bump, no announcement.
# Returns {version (0: nothing changed), 1 if the topic field changed else 0,
#          the entry fields written...}.
SYNC_TABLE = """
local have = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do have[all[i]] = all[i + 1] end
local out = {0, 0}
local dirty = false
if have['topic'] ~= ARGV[3] then
  redis.call('HSET', KEYS[1], 'topic', ARGV[3])
  out[2] = 1
  dirty = true
end
have['topic'] = nil
for i = 4, #ARGV, 2 do
  if have[ARGV[i]] ~= ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    out[#out + 1] = ARGV[i]
    dirty = true
  end
  have[ARGV[i]] = nil
end
for field in pairs(have) do
  redis.call('HDEL', KEYS[1], field)
  dirty = true
end
if redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 0 then
  redis.call('SADD', KEYS[2], ARGV[2])
  dirty = true
end
if not dirty then return out end
out[1] = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return out
"""

# KEYS[1] tokens hash, KEYS[2] version
# ARGV: channel, owner (<ns>/<secret>), then the token hashes the owner holds now
# Removes the owner's other hashes (and only the owner's), then records the given ones;
# returns 0 without writing when the owner held exactly these already, else the new version.
SYNC_TOKENS = """
local want = {}
for i = 3, #ARGV do want[ARGV[i]] = true end
local all = redis.call('HGETALL', KEYS[1])
local drop, held = {}, {}
for i = 1, #all, 2 do
  if all[i + 1] == ARGV[2] then
    if want[all[i]] then held[all[i]] = true else drop[#drop + 1] = all[i] end
  end
end
local add = {}
for i = 3, #ARGV do
  if not held[ARGV[i]] then add[#add + 1] = ARGV[i] end
end
if #drop == 0 and #add == 0 then return 0 end
for _, field in ipairs(drop) do redis.call('HDEL', KEYS[1], field) end
for _, field in ipairs(add) do redis.call('HSET', KEYS[1], field, ARGV[2]) end
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], 'tokens')
return version
"""
