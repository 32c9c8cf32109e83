-- WORKFLOW_START: start a workflow run (a publish with `Upstash-Workflow-Init: true`):
-- its record, its steps array holding the initial payload, and its first message (whose
-- body is that array), atomically (herald_core.workflows).
--
-- KEYS[1] due    ZSET    message id -> due ms
-- KEYS[2] log    STREAM  the shard's log
-- KEYS[3] run    HASH    the run's record (herald_core.keys: wr:<run id>)
-- KEYS[4] steps  LIST    the run's steps array elements (ws:<run id>)
-- KEYS[5] runs   ZSET    the shard's running runs (wa)
-- ARGV[1] the shard's base (herald_core.keys.ShardKeys.base)
-- ARGV[2] log maxlen
-- ARGV[3] the workflow's URL
-- ARGV[4] created (ms)
-- ARGV[5] the initial payload's element of the steps array
-- ARGV[6..13] the first message (include/messages.lua, `read_message`)
-- Reply: '' (started), or the id of the run's first message when the run exists already
--        (nothing stored: a publish of the same run id again)
-- @include messages

local base, maxlen = ARGV[1], ARGV[2]
if redis.call('EXISTS', KEYS[3]) == 1 then
  return redis.call('HGET', KEYS[3], 'm') or ''
end
local msg = read_message(6)
redis.call('HSET', KEYS[3], 'u', ARGV[3], 'c', ARGV[4], 'e', '', 'm', msg.id)
redis.call('RPUSH', KEYS[4], ARGV[5])
redis.call('ZADD', KEYS[5], ARGV[4], string.sub(KEYS[3], #key(base, 'run_prefix') + 1))
store(base, KEYS[1], KEYS[2], maxlen, msg)
return ''
