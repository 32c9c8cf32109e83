-- ROUTING_DROP_TABLE: delete a routing table, bump the version and announce it.
--
-- KEYS[1] table    HASH    (see routing_put_table.lua)
-- KEYS[2] topics   SET     ids of the tables that exist
-- KEYS[3] version  STRING  bumped by every routing change
-- ARGV[1] channel
-- ARGV[2] topic id (<ns>/<topic>)
-- ARGV[3] guard: '' or the `topic` field value the table must hold
-- ARGV[4] owner: '' = any; 'crd' or 'api' = only a table that owner manages, or none
-- Reply: the new version, or -1 when the guard or the owner did not hold

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
