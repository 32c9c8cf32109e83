-- ROUTING_SYNC_TABLE: make a table hold exactly this topic and these entries, field by
-- field: an equal field is not touched, a differing one is set, an entry not listed is
-- removed (a Subscription deleted while no operator ran; the caller lists every live one).
-- Nothing differs: only reads, no version bump, no announcement.
--
-- KEYS[1] table    HASH    (see routing_put_table.lua)
-- KEYS[2] topics   SET     ids of the tables that exist
-- KEYS[3] version  STRING  bumped by every routing change
-- ARGV[1] channel
-- ARGV[2] topic id (<ns>/<topic>)
-- ARGV[3] topic JSON
-- ARGV[4..] field/value pairs of every entry the table must hold
-- Reply: {version (0: nothing changed), 1 if the topic field changed else 0,
--         the entry fields written...}

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
