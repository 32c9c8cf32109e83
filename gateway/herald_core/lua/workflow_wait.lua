-- WORKFLOW_WAIT: register a waiter of a running workflow run (context.waitForEvent,
-- waitForWebhook): the run's step waits for an event until its deadline
-- (herald_core.workflow_events).
--
-- KEYS[1] run      HASH  the run's record (herald_core.keys: wr:<run id>)
-- KEYS[2] waiters  HASH  the run's waiters, by event id (ww:<run id>)
-- KEYS[3] due      ZSET  the shard's waiters by deadline (wwd)
-- KEYS[4] mailbox  LIST  the events sent to the run for this event id before it waited
-- ARGV[1] the event id
-- ARGV[2] the waiter's JSON
-- ARGV[3] its deadline (ms)
-- ARGV[4] its member of the deadline set (JSON [run id, event id])
-- ARGV[5] the waiting step's id (the SDK's stepId)
-- Reply: {'ok'} waiting (a waiter of the run for the same event is replaced); {'ok', data}
--        waiting, and an event came before: the caller ends the waiter with it (the
--        oldest, left in the mailbox until WORKFLOW_RESUME takes it); {'none'} no such run;
--        {'ended', state} the run ended (DONE, CANCELED); {'dup'} the step has its result
--        already (a wait sent again after it ended): nothing stored in these three

local ended = redis.call('HGET', KEYS[1], 'e')
if not ended then return {'none'} end
if ended ~= '' then return {'ended', ended} end
if redis.call('HEXISTS', KEYS[1], 's:' .. ARGV[5]) == 1 then return {'dup'} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
local early = redis.call('LINDEX', KEYS[4], 0)
if early then return {'ok', early} end
return {'ok'}
