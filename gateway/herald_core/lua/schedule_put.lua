-- SCHEDULE_PUT: create or replace a schedule whole, or delete it.
--
-- KEYS[1] schedule  HASH  (see schedule_done.lua)
-- KEYS[2] due       ZSET  schedule id -> next tick ms
-- ARGV[1] schedule id
-- ARGV[2] definition JSON ('' = delete the schedule; the other values are then '')
-- ARGV[3] body
-- ARGV[4] version
-- ARGV[5] first tick (ms)
-- ARGV[6] paused: '1' or '0'
-- Reply: 1 when written; when deleting, 1 if it existed, else 0

redis.call('DEL', KEYS[1])
if ARGV[2] == '' then
  return redis.call('ZREM', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[1], 'j', ARGV[2], 'b', ARGV[3], 'v', ARGV[4], 'n', ARGV[5],
           'paused', ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return 1
