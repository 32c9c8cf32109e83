-- WORKFLOW_MAIL: an event sent to one run (a webhook call, a notify naming the run): the
-- caller ends the run's waiter with it, or, when nothing waits yet, it is kept for the
-- run's next wait for that event (lookback; herald_core.workflow_events).
--
-- KEYS[1] run      HASH  the run's record (herald_core.keys: wr:<run id>)
-- KEYS[2] waiters  HASH  the run's waiters, by event id (ww:<run id>)
-- KEYS[3] mailbox  LIST  the events kept for the run and this event id
-- ARGV[1] the event id
-- ARGV[2] the event's data
-- ARGV[3] how long a kept event lasts (ms)
-- Reply: {'waiting'} a waiter waits: nothing kept, the caller ends it (WORKFLOW_RESUME);
--        {'kept'} kept; {'none'} no such run; {'ended', state} the run ended

local ended = redis.call('HGET', KEYS[1], 'e')
if not ended then return {'none'} end
if ended ~= '' then return {'ended', ended} end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {'waiting'} end
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return {'kept'}
