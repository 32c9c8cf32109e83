-- ROTATE_KEYS: current := next, next := a fresh key.
--
-- KEYS[1] signing_keys  HASH  current, next, seed
-- ARGV[1] the fresh key
-- Reply: {current, next} after the rotation

local nxt = redis.call('HGET', KEYS[1], 'next')
redis.call('HSET', KEYS[1], 'current', nxt, 'next', ARGV[1])
return {nxt, ARGV[1]}
