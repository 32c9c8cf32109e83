-- SCHEDULE_CLAIM: claim due schedule ticks: each moves to now + lease, so no other gateway
-- takes it meanwhile (and it comes back if this one dies before recording it). The tick
-- claimed is the schedule's next tick (`n`), not the due score: after a claim the score is
-- the lease's end, and a tick taken again after a crash must be the same tick (its message
-- is deduplicated on it), not a time that is no tick of the cron at all.
--
-- KEYS[1] due  ZSET  schedule id -> next tick ms (the `{sched}` hash tag)
-- ARGV[1] now (ms)
-- ARGV[2] lease (ms)
-- ARGV[3] limit: most ticks to claim
-- ARGV[4] the schedule hash prefix (herald_core.keys.Keys.schedule_prefix)
-- Reply: {next tick left or -1, id1, tick1, hash1, id2, ...} (each hash as HGETALL gives it)

local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, ARGV[3])
local out = {-1}
for i = 1, #due, 2 do
  if redis.call('EXISTS', ARGV[4] .. due[i]) == 1 then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), due[i])
    out[#out + 1] = due[i]
    out[#out + 1] = redis.call('HGET', ARGV[4] .. due[i], 'n') or due[i + 1]
    out[#out + 1] = redis.call('HGETALL', ARGV[4] .. due[i])
  else
    redis.call('ZREM', KEYS[1], due[i])
  end
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if head[2] then out[1] = head[2] end
return out
