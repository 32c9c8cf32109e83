-- SCHEDULE_PAUSE: pause or resume a schedule (ticks while paused are skipped).
--
-- KEYS[1] schedule  HASH  (see schedule_done.lua)
-- ARGV[1] '1' to pause, '0' to resume
-- Reply: 1, or 0 when there is no such schedule

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'paused', ARGV[1])
return 1
