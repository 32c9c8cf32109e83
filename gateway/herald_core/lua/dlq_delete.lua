-- DLQ_DELETE: delete dead letters of one shard.
--
-- KEYS[1] dlq  ZSET  dead-letter id -> failed at ms
-- ARGV[1] the shard's dead-letter prefix (herald_core.keys.ShardKeys.dlq_prefix)
-- ARGV[2..] dead-letter ids
-- Reply: how many existed

local n = 0
for i = 2, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('DEL', ARGV[1] .. ARGV[i])
    n = n + 1
  end
end
return n
