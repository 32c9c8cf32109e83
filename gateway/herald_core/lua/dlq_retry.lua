-- DLQ_RETRY: replace a dead letter by a new message (same shard) carrying its body.
--
-- KEYS[1] due  ZSET    message id -> due ms
-- KEYS[2] log  STREAM  the shard's log
-- KEYS[3] dlq  ZSET    dead-letter id -> failed at ms
-- ARGV[1] the shard's base (herald_core.keys.ShardKeys.base)
-- ARGV[2] log maxlen
-- ARGV[3] dead-letter id
-- ARGV[4..11] the new message (include/messages.lua, `read_message`); its body is a
--             placeholder, replaced by the dead letter's
-- Reply: 1, or 0 when the dead letter is gone
-- @include messages

local base = ARGV[1]
local dkey = key(base, 'dlq_prefix', ARGV[3])
if redis.call('ZREM', KEYS[3], ARGV[3]) == 0 then return 0 end
local msg = read_message(4)
msg.body = redis.call('HGET', dkey, 'b') or ''
redis.call('DEL', dkey)
store(base, KEYS[1], KEYS[2], ARGV[2], msg)
return 1
