-- ENQUEUE: store new messages of one shard with their first delivery tasks, atomically;
-- a message whose deduplication key was seen within its window is not stored.
--
-- KEYS[1] due    ZSET    message id -> due ms
-- KEYS[2] log    STREAM  the shard's log (include/messages.lua)
-- ARGV[1] the shard's base (herald_core.keys.ShardKeys.base)
-- ARGV[2] log maxlen
-- ARGV[3..] per message 10 values: the 8 of a new message (include/messages.lua,
--           `read_message`), its deduplication key ('' = none), the window (ms)
-- Reply: per message '' (stored) or the id of the earlier message it duplicates
-- @include messages

local base, maxlen = ARGV[1], ARGV[2]
local out = {}
local i = 3
while i <= #ARGV do
  local msg, at = read_message(i)
  local dedup, window = ARGV[at], ARGV[at + 1]
  i = at + 2
  local existing = false
  if dedup ~= '' then
    local dkey = key(base, 'dedup_prefix', dedup)
    existing = redis.call('GET', dkey)
    if not existing then redis.call('SET', dkey, msg.id, 'PX', window) end
  end
  if existing then
    out[#out + 1] = existing
  else
    store(base, KEYS[1], KEYS[2], maxlen, msg)
    out[#out + 1] = ''
  end
end
return out
