-- CANCEL: remove messages of one shard wherever they wait (waiting, delayed, retrying,
-- waitlisted or in flight), logging CANCEL_REQUESTED and CANCELED for each.
--
-- KEYS[1] due    ZSET    message id -> due ms
-- KEYS[2] lease  ZSET    message id -> lease expiry ms
-- KEYS[3] log    STREAM  the shard's log
-- ARGV[1] the shard's base (herald_core.keys.ShardKeys.base)
-- ARGV[2] log maxlen
-- ARGV[3] now (ms)
-- ARGV[4..] message ids
-- Reply: how many were still stored
-- @include slots

local base, maxlen, now = ARGV[1], ARGV[2], ARGV[3]
local n = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local hash = key(base, 'message_prefix', id)
  local f = redis.call('HMGET', hash, 'm', 'r', 'k', 'q', 'qh')
  if f[1] then
    redis.call('DEL', hash)
    if f[5] then hold_done(base, KEYS[1], f[5], now) end
    redis.call('ZREM', KEYS[1], id)
    local leased = redis.call('ZREM', KEYS[2], id) == 1
    if f[4] then
      if redis.call('ZREM', key(base, 'queue_wait_prefix', f[4]), id) == 1 then
        redis.call('HINCRBY', key(base, 'queue_prefix', f[4]), 'n', -1)
      else
        queue_done(base, KEYS[1], f[4], now)
      end
    end
    if f[3] then
      local fkey = flow_of(f[3])
      redis.call('ZREM', key(base, 'waitlist_prefix', fkey), id)
      redis.call('HINCRBY', key(base, 'flow_prefix', fkey), 'n', -1)
      if leased then release(base, KEYS[1], f[3], now) end
    end
    for _, state in ipairs({'CANCEL_REQUESTED', 'CANCELED'}) do
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', 's', state, 'id', id,
                 'm', f[1], 'r', f[2])
    end
    n = n + 1
  end
end
return n
