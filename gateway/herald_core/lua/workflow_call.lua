-- WORKFLOW_CALL: store the message of a workflow run's `context.call` (the request to the
-- third party, whose callback brings the answer back into the run) with the run,
-- atomically, unless the run has it already or has ended. The run's record names it, so
-- cancelling the run cancels it too (herald_core.workflows).
--
-- KEYS[1] due    ZSET    message id -> due ms
-- KEYS[2] log    STREAM  the shard's log
-- KEYS[3] run    HASH    the run's record (herald_core.keys: wr:<run id>)
-- ARGV[1] the shard's base (herald_core.keys.ShardKeys.base)
-- ARGV[2] log maxlen
-- ARGV[3] the call's key in the run's record (`call:<stepId>`)
-- ARGV[4..11] the message (include/messages.lua, `read_message`)
-- Reply: {'ok'} stored; {'dup', id} the run has this call already, as message `id`
--        (nothing stored); {'none'} no such run; {'ended', state} the run ended
-- @include messages

local base, maxlen = ARGV[1], ARGV[2]
local f = redis.call('HMGET', KEYS[3], 'e', 's:' .. ARGV[3])
if not f[1] then return {'none'} end
if f[1] ~= '' then return {'ended', f[1]} end
if f[2] then return {'dup', f[2]} end
local msg = read_message(4)
redis.call('HSET', KEYS[3], 's:' .. ARGV[3], msg.id)
store(base, KEYS[1], KEYS[2], maxlen, msg)
return {'ok'}
