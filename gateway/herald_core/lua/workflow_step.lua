-- WORKFLOW_STEP: append one step to a running workflow run and store the message that
-- delivers the steps array with it, atomically, unless the step is logged already.
--
-- KEYS[1] due    ZSET    message id -> due ms
-- KEYS[2] log    STREAM  the shard's log
-- KEYS[3] run    HASH    the run's record (herald_core.keys: wr:<run id>)
-- KEYS[4] steps  LIST    the run's steps array elements (ws:<run id>)
-- ARGV[1] the shard's base (herald_core.keys.ShardKeys.base)
-- ARGV[2] log maxlen
-- ARGV[3] the step's key in its run: its stepId, or `0>n` for a parallel plan step (stepId 0,
--         targetStep n)
-- ARGV[4] the step's element of the steps array
-- ARGV[5] how many elements the steps array had when the message's body was built
-- ARGV[6..13] the message (include/messages.lua, `read_message`)
-- Reply: {'ok'} stored; {'dup', id} the step was logged already, by message `id` (nothing
--        stored); {'none'} no such run; {'ended', state} the run ended (DONE, CANCELED);
--        {'stale', n} the array has n elements now: build the body again
-- @include messages

local base, maxlen = ARGV[1], ARGV[2]
local f = redis.call('HMGET', KEYS[3], 'e', 's:' .. ARGV[3])
if not f[1] then return {'none'} end
if f[1] ~= '' then return {'ended', f[1]} end
if f[2] then return {'dup', f[2]} end
local n = redis.call('LLEN', KEYS[4])
if n ~= tonumber(ARGV[5]) then return {'stale', n} end
local msg = read_message(6)
redis.call('HSET', KEYS[3], 's:' .. ARGV[3], msg.id)
redis.call('RPUSH', KEYS[4], ARGV[4])
store(base, KEYS[1], KEYS[2], maxlen, msg)
return {'ok'}
