-- JANITOR: retention of one shard: trims the log stream by age and drops expired dead
-- letters (1,000 a call).
--
-- KEYS[1] log  STREAM  the shard's log
-- KEYS[2] dlq  ZSET    dead-letter id -> failed at ms
-- ARGV[1] oldest log entry id to keep (ms)
-- ARGV[2] oldest dead letter to keep (ms)
-- ARGV[3] the shard's dead-letter prefix (herald_core.keys.ShardKeys.dlq_prefix)
-- Reply: how many dead letters were dropped

redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2], 'LIMIT', 0, 1000)
for _, id in ipairs(old) do
  redis.call('DEL', ARGV[3] .. id)
  redis.call('ZREM', KEYS[2], id)
end
return #old
