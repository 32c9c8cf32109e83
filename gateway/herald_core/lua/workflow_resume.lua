-- WORKFLOW_RESUME: end a waiter of a workflow run, notified or timed out, by appending its
-- step (the event's data, or the timeout) to the run's steps array and storing the message
-- that delivers the array, atomically: of a notify and a timeout racing for one waiter, on
-- any number of gateways, exactly one appends (herald_core.workflow_events).
--
-- KEYS[1] due      ZSET    message id -> due ms
-- KEYS[2] log      STREAM  the shard's log
-- KEYS[3] run      HASH    the run's record (herald_core.keys: wr:<run id>)
-- KEYS[4] steps    LIST    the run's steps array elements (ws:<run id>)
-- KEYS[5] waiters  HASH    the run's waiters, by event id (ww:<run id>)
-- KEYS[6] wdue     ZSET    the shard's waiters by deadline (wwd)
-- KEYS[7] mailbox  LIST    the events kept for the run and this event id (WORKFLOW_MAIL)
-- ARGV[1] the shard's base (herald_core.keys.ShardKeys.base)
-- ARGV[2] log maxlen
-- ARGV[3] the event id
-- ARGV[4] the waiter's member of the deadline set
-- ARGV[5] the waiter's JSON as the caller read it: only that waiter is ended
-- ARGV[6] the waiting step's id (the SDK's stepId)
-- ARGV[7] the step's element of the steps array
-- ARGV[8] how many elements the steps array had when the message's body was built
-- ARGV[9] the kept event the waiter ends with, taken from the mailbox's head ('' none)
-- ARGV[10..17] the message (include/messages.lua, `read_message`)
-- Reply: {'ok'} appended; {'gone'} the waiter is no longer there (another notify or the
--        timeout took it), or the kept event is not the mailbox's head; {'none'} no
--        such run, {'ended', state} the run ended, {'dup', id}
--        the step was logged already (the waiter is dropped in these three); {'stale', n}
--        the array has n elements now: build the body again
-- @include messages
-- @include runs

local base, maxlen = ARGV[1], ARGV[2]
if redis.call('HGET', KEYS[5], ARGV[3]) ~= ARGV[5] then return {'gone'} end
if ARGV[9] ~= '' and redis.call('LINDEX', KEYS[7], 0) ~= ARGV[9] then return {'gone'} end
local function drop()
  redis.call('HDEL', KEYS[5], ARGV[3])
  redis.call('ZREM', KEYS[6], ARGV[4])
end
local f = redis.call('HMGET', KEYS[3], 'e', 's:' .. ARGV[6])
if not f[1] then drop() return {'none'} end
if f[1] ~= '' then drop() return {'ended', f[1]} end
if f[2] then drop() return {'dup', f[2]} end
local n = redis.call('LLEN', KEYS[4])
if n ~= tonumber(ARGV[8]) then return {'stale', n} end
local msg = read_message(10)
drop()
if ARGV[9] ~= '' then redis.call('LPOP', KEYS[7]) end
redis.call('HSET', KEYS[3], 's:' .. ARGV[6], msg.id)
redis.call('RPUSH', KEYS[4], ARGV[7])
store(base, KEYS[1], KEYS[2], maxlen, msg)
-- the message names its run (settle.lua marks the run FAILED if it is dead-lettered)
redis.call('HSET', key(base, 'message_prefix', msg.id), 'w', run_of(base, KEYS[3]))
return {'ok'}
