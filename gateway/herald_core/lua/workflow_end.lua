-- WORKFLOW_END: end a workflow run, finished (the SDK's last call) or cancelled; its record
-- and steps are kept for the retention window, then expire.
--
-- KEYS[1] run    HASH    the run's record (herald_core.keys: wr:<run id>)
-- KEYS[2] steps  LIST    the run's steps array elements (ws:<run id>)
-- KEYS[3] runs   ZSET    the shard's running runs (wa): the run leaves it
-- ARGV[1] the end state: DONE or CANCELED
-- ARGV[2] retention (ms)
-- ARGV[3] the run's id
-- Reply: {} no such run; {state} it had ended already, as `state`; {'', id...} it was
--        running and has ended now: the ids of all its messages (the caller cancels those
--        still pending when the run is cancelled)

local f = redis.call('HMGET', KEYS[1], 'e', 'm')
if not f[1] then return {} end
if f[1] ~= '' then return {f[1]} end
redis.call('HSET', KEYS[1], 'e', ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local out = {'', f[2]}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 's:' then out[#out + 1] = all[i + 1] end
end
return out
