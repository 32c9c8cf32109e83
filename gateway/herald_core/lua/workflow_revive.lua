-- WORKFLOW_REVIVE: bring a FAILED workflow run back from the DLQ as a new run in the same
-- shard (herald_core.workflow_failures): its dead letter becomes the new run's next
-- message. `resume` copies the steps done (the message carries the whole steps array, the
-- failed step runs again); `restart` copies the initial payload alone (it starts over).
-- The failed run stays FAILED, its dead letter gone.
--
-- KEYS[1] due        ZSET    message id -> due ms
-- KEYS[2] log        STREAM  the shard's log
-- KEYS[3] dlq        ZSET    dead-letter id -> failed at ms
-- KEYS[4] run        HASH    the failed run's record (herald_core.keys: wr:<run id>)
-- KEYS[5] steps      LIST    its steps array elements (ws:<run id>)
-- KEYS[6] new run    HASH    the new run's record
-- KEYS[7] new steps  LIST    the new run's steps array elements
-- KEYS[8] running    ZSET    the shard's running runs (wa): the new run joins it
-- ARGV[1] the shard's base (herald_core.keys.ShardKeys.base)
-- ARGV[2] log maxlen
-- ARGV[3] the dead letter's id
-- ARGV[4] resume or restart
-- ARGV[5] how many elements the steps array had when the message's body was built
-- ARGV[6] now (ms): the new run's creation
-- ARGV[7] the settings the new run's steps take (record field g)
-- ARGV[8..15] the new message (include/messages.lua, `read_message`), its body built
-- Reply: {'ok'}; {'gone'} no such dead letter; {'state', e} the run is not FAILED (''
--        when it is gone); {'taken'} the new run id exists; {'stale', n} the array has n
--        elements now: build the body again
-- @include messages
-- @include runs

local base, maxlen = ARGV[1], ARGV[2]
if not redis.call('ZSCORE', KEYS[3], ARGV[3]) then return {'gone'} end
local f = redis.call('HMGET', KEYS[4], 'e', 'u', 'x')
if f[1] ~= 'FAILED' then return {'state', f[1] or ''} end
if redis.call('EXISTS', KEYS[6]) == 1 then return {'taken'} end
local n = redis.call('LLEN', KEYS[5])
if n ~= tonumber(ARGV[5]) then return {'stale', n} end
local msg = read_message(8)
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('DEL', key(base, 'dlq_prefix', ARGV[3]))
local restart = ARGV[4] == 'restart'
for _, element in ipairs(redis.call('LRANGE', KEYS[5], 0, restart and 0 or -1)) do
  redis.call('RPUSH', KEYS[7], element)
end
redis.call('HSET', KEYS[6], 'u', f[2], 'c', ARGV[6], 'e', '', 'm', msg.id, 'x', f[3],
           'g', ARGV[7], 'o', run_of(base, KEYS[4]))
redis.call('ZADD', key(base, 'runs'), ARGV[6], run_of(base, KEYS[6]))  -- workflow_logs
redis.call('ZADD', KEYS[8], ARGV[6], run_of(base, KEYS[6]))
if not restart then
  -- the steps done stay done (a step published again is a duplicate); not the failed run's
  -- context.calls (`s:call:n`) and their callbacks (`s:cb:<id>`): the failed step may make
  -- its call again
  local all = redis.call('HGETALL', KEYS[4])
  for i = 1, #all, 2 do
    local name = all[i]
    if string.sub(name, 1, 2) == 's:' and not string.find(name, '^s:call:')
        and not string.find(name, '^s:cb:') then
      redis.call('HSET', KEYS[6], name, all[i + 1])
    end
  end
end
store(base, KEYS[1], KEYS[2], maxlen, msg)
redis.call('HSET', key(base, 'message_prefix', msg.id), 'w', run_of(base, KEYS[6]))
return {'ok'}
