-- QUEUE_SET: create or update a queue and start what its free slots allow.
--
-- KEYS[1] due  ZSET  message id -> due ms (of the queue's shard)
-- ARGV[1] the shard's base (herald_core.keys.ShardKeys.base)
-- ARGV[2] queue name
-- ARGV[3] parallelism ('' = keep)
-- ARGV[4] paused: '1', '0' ('' = keep)
-- ARGV[5] now (ms)
-- ARGV[6] '1' to create a missing queue (else a missing queue is left alone)
-- Reply: 1, or 0 when the queue is missing (and not created)
-- @include slots

local base, name, now = ARGV[1], ARGV[2], ARGV[5]
local q = key(base, 'queue_prefix', name)
if redis.call('EXISTS', q) == 0 then
  if ARGV[6] ~= '1' then return 0 end
  redis.call('HSET', q, 'c', now, 'p', 1, 'n', 0, 'a', 0)
  redis.call('SADD', key(base, 'queues'), name)
end
redis.call('HSET', q, 'u', now)
if ARGV[3] ~= '' then redis.call('HSET', q, 'p', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', q, 'paused', ARGV[4]) end
pump(base, KEYS[1], name, now)
return 1
