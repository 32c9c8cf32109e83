-- FLOW_PIN: pin limits of a flow-control key (messages no longer change them) and start a
-- fresh rate period.
--
-- KEYS[1] state  HASH  the key's flow-control state (flow_prefix .. <key>)
-- KEYS[2] rate   ZSET  its starts within the rate period (rate_prefix .. <key>)
-- ARGV[1] parallelism ('' = leave alone)
-- ARGV[2] rate ('' = leave alone)
-- ARGV[3] period ms ('' = leave alone)
-- Reply: 1, or 0 when the key has no state

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'cp', ARGV[1], 'pp', '1') end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'cr', ARGV[2], 'pr', '1') end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'cw', ARGV[3], 'pr', '1') end
redis.call('DEL', KEYS[2])
return 1
