-- WORKFLOW_RESUME: bring a FAILED workflow run back from the DLQ (herald_core.workflow_failures):
-- its dead letter becomes the run's next message, and the run is running again. `resume`
-- keeps its steps (the message carries the whole steps array); `restart` forgets them (the
-- message carries the initial payload alone, and the run counts as created now).
--
-- KEYS[1] due    ZSET    message id -> due ms
-- KEYS[2] log    STREAM  the shard's log
-- KEYS[3] dlq    ZSET    dead-letter id -> failed at ms
-- KEYS[4] run    HASH    the run's record (herald_core.keys: wr:<run id>)
-- KEYS[5] steps  LIST    the run's steps array elements (ws:<run id>)
-- ARGV[1] the shard's base (herald_core.keys.ShardKeys.base)
-- ARGV[2] log maxlen
-- ARGV[3] the dead letter's id
-- ARGV[4] resume or restart
-- ARGV[5] how many elements the steps array had when the message's body was built
-- ARGV[6] now (ms)
-- ARGV[7..14] the new message (include/messages.lua, `read_message`), its body built
-- Reply: {'ok', created ms}; {'gone'} no such dead letter; {'state', e} the run is not
--        FAILED ('' running, DONE, CANCELED; '' too when it is gone); {'stale', n} the
--        array has n elements now: build the body again
-- @include messages
-- @include runs

local base, maxlen = ARGV[1], ARGV[2]
if not redis.call('ZSCORE', KEYS[3], ARGV[3]) then return {'gone'} end
local f = redis.call('HMGET', KEYS[4], 'e', 'c')
if f[1] ~= 'FAILED' then return {'state', f[1] or ''} end
local n = redis.call('LLEN', KEYS[5])
if n ~= tonumber(ARGV[5]) then return {'stale', n} end
local msg = read_message(7)
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('DEL', key(base, 'dlq_prefix', ARGV[3]))
local created = f[2]
if ARGV[4] == 'restart' then
  redis.call('LTRIM', KEYS[5], 0, 0)
  local all = redis.call('HGETALL', KEYS[4])
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 's:' then redis.call('HDEL', KEYS[4], all[i]) end
  end
  created = ARGV[6]
  redis.call('HSET', KEYS[4], 'c', created, 'm', msg.id)
end
redis.call('HSET', KEYS[4], 'e', '')
redis.call('HDEL', KEYS[4], 'd', 't')
redis.call('PERSIST', KEYS[4])
redis.call('PERSIST', KEYS[5])
store(base, KEYS[1], KEYS[2], maxlen, msg)
redis.call('HSET', key(base, 'message_prefix', msg.id), 'w', run_of(base, KEYS[4]))
return {'ok', created}
