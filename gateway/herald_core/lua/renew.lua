-- RENEW: the heartbeat of a worker's in-flight tasks: move their leases to a new expiry.
--
-- KEYS[1] lease  ZSET  message id -> lease expiry ms
-- ARGV[1] the new expiry (ms)
-- ARGV[2..] pairs of (message id, the expiry its holder last set)
-- Reply: the ids renewed
--
-- Each lease is moved only if it still ends where its holder left it. A lease that expired
-- meanwhile went back to `due` (and may be another worker's now, ending elsewhere:
-- expiries only grow), so it is never taken back.

local out = {}
for i = 2, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i])
    out[#out + 1] = ARGV[i]
  end
end
return out
