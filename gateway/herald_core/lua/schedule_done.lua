-- SCHEDULE_DONE: record a fired (or skipped) tick and set the next one — unless the
-- schedule was deleted or replaced since the claim.
--
-- KEYS[1] schedule  HASH  j definition, b body, v version, n next tick, l last tick,
--                         st last message ids JSON, e error, paused
-- KEYS[2] due       ZSET  schedule id -> next tick ms
-- ARGV[1] version claimed
-- ARGV[2] schedule id
-- ARGV[3] tick fired (ms; '' = skipped, paused)
-- ARGV[4] next tick (ms)
-- ARGV[5] message ids of the tick, JSON ('' = keep)
-- ARGV[6] error ('' = none)
-- Reply: 1 if recorded, else 0

if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'l', ARGV[3]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'st', ARGV[5]) end
redis.call('HSET', KEYS[1], 'n', ARGV[4], 'e', ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
return 1
