-- ROUTING_PUT_ENTRY: one subscription's entry, written only while its topic's table exists
-- and is managed by the operator (a URL group of the API with the same name is left
-- alone). Compares before it writes: an entry as asked already bumps nothing.
--
-- KEYS[1] table    HASH    (see routing_put_table.lua)
-- KEYS[2] version  STRING  bumped by every routing change
-- ARGV[1] channel
-- ARGV[2] topic id (<ns>/<topic>)
-- ARGV[3] field (s:<subscription name>)
-- ARGV[4] value ('' removes the field)
-- Reply: 0 when there is no such table (nothing written), 1 when the entry was as asked
--        already (nothing written, no version bump), 2 when it was written or removed

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
