-- LOAD_KEYS: install the configured signing keys unless rotations of these same keys are
-- stored (the stored seed matches).
--
-- KEYS[1] signing_keys  HASH  current, next, seed
-- ARGV[1] seed: a digest of the configured pair
-- ARGV[2] current key
-- ARGV[3] next key
-- Reply: {current, next} as stored

if redis.call('HGET', KEYS[1], 'seed') ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'seed', ARGV[1], 'current', ARGV[2], 'next', ARGV[3])
end
return redis.call('HMGET', KEYS[1], 'current', 'next')
