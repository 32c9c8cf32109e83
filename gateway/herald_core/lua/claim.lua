-- CLAIM: lease up to `limit` due tasks of one shard to the calling worker.
--
-- KEYS[1] due        ZSET    message id -> due ms
-- KEYS[2] lease      ZSET    message id -> lease expiry ms
-- KEYS[3] log        STREAM  the shard's log
-- KEYS[4] flow_keys  SET     flow-control keys with a waitlist
-- ARGV[1] now (ms)
-- ARGV[2] limit: most tasks to claim
-- ARGV[3] lease (ms)
-- ARGV[4] the shard's base (herald_core.keys.ShardKeys.base)
-- ARGV[5] log maxlen
-- Reply: {next due ms or -1, id1, meta1, body1, retried1, id2, ...}; the next due time is
--        the earliest of the next waiting task and the next lease to run out (a crashed
--        worker's tasks come back then, without waiting for the safety-net poll)
--
-- 1. expired leases (crashed or stuck workers) go back to `due`, due now, freeing their
--    flow-control slot;
-- 2. up to `limit` due tasks move to `lease` until now + lease ms, each logged ACTIVE —
--    unless their flow-control key is at its parallelism (then they join the key's
--    waitlist, released when a slot frees) or rate (then they wait, in `due`, for the rate
--    window to end).
-- @include messages

local now = tonumber(ARGV[1])
local base = ARGV[4]
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  redis.call('ZADD', KEYS[1], now, id)
  redis.call('ZREM', KEYS[2], id)
  local flow = redis.call('HGET', key(base, 'message_prefix', id), 'k')
  if flow then release(base, KEYS[1], flow, now) end
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {-1}
for _, id in ipairs(ids) do
  take(base, KEYS[1], KEYS[2], KEYS[3], KEYS[4], id, now, tonumber(ARGV[3]), ARGV[5], out)
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if head[2] then out[1] = tonumber(head[2]) end
local lease = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if lease[2] and (out[1] < 0 or tonumber(lease[2]) < out[1]) then
  out[1] = tonumber(lease[2])
end
return out
