-- ROUTING_PUT_TABLE: write a routing table (replacing it whole, or merging into it), bump
-- the version and announce the table on the routing channel.
--
-- KEYS[1] table    HASH    topic: TopicRoute JSON, s:<name>: SubscriptionRoute JSON
-- KEYS[2] topics   SET     ids of the tables that exist
-- KEYS[3] version  STRING  bumped by every routing change
-- ARGV[1] channel
-- ARGV[2] topic id (<ns>/<topic>)
-- ARGV[3] mode: 'replace' or 'merge'
-- ARGV[4] guard: '' = write unconditionally; '-' = only if the table has no `topic` field
--         yet; anything else = only if the `topic` field still holds exactly that value
--         (optimistic concurrency for the URL-group API)
-- ARGV[5] n: how many fields to delete
-- ARGV[6..] the n fields to delete, then field/value pairs to write
-- Reply: the new version, or -1 when the guard failed

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
