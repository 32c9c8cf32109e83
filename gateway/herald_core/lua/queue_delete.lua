-- QUEUE_DELETE: delete a queue: messages still waiting for a slot are cancelled (logged),
-- ones already started finish.
--
-- KEYS[1] log  STREAM  the shard's log (of the queue's shard)
-- ARGV[1] the shard's base (herald_core.keys.ShardKeys.base)
-- ARGV[2] queue name
-- ARGV[3] log maxlen
-- Reply: how many messages were cancelled
-- @include keys

local base, name = ARGV[1], ARGV[2]
local waiting = key(base, 'queue_wait_prefix', name)
local ids = redis.call('ZRANGE', waiting, 0, -1)
for _, id in ipairs(ids) do
  local hash = key(base, 'message_prefix', id)
  local f = redis.call('HMGET', hash, 'm', 'r')
  if f[1] then
    redis.call('DEL', hash)
    for _, state in ipairs({'CANCEL_REQUESTED', 'CANCELED'}) do
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 's', state, 'id', id,
                 'm', f[1], 'r', f[2])
    end
  end
end
redis.call('DEL', waiting, key(base, 'queue_prefix', name))
redis.call('SREM', key(base, 'queues'), name)
return #ids
