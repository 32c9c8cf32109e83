-- FLOW_PAUSE: pause or resume a flow-control key. A paused key accepts and keeps messages
-- (CLAIM waitlists them); resuming a paused key makes its whole waitlist due, in order.
-- Asking for the state the key is in already writes nothing (a key never paused is
-- resumed): the waitlist of a key at its parallelism cap is then left to the slots.
--
-- KEYS[1] state     HASH  the key's flow-control state (flow_prefix .. <key>)
-- KEYS[2] waitlist  ZSET  its waitlist (waitlist_prefix .. <key>)
-- KEYS[3] due       ZSET  message id -> due ms
-- ARGV[1] '1' to pause, '0' to resume
-- ARGV[2] now (ms)
-- Reply: how many messages the resume made due

if (redis.call('HGET', KEYS[1], 'paused') or '0') == ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'paused', ARGV[1])
if ARGV[1] == '1' then return 0 end
local waiting = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #waiting, 2 do
  redis.call('ZADD', KEYS[3], math.max(tonumber(waiting[i + 1]), tonumber(ARGV[2])), waiting[i])
end
redis.call('DEL', KEYS[2])
return #waiting / 2
