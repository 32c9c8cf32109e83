-- GRANT: global parallelism. Each worker asks for the slots it wants; grants never sum
-- above the cap, and a worker holds more than its fair share (cap / live workers) only for
-- slots it is using or no other worker holds. A worker that stops renewing loses its grant
-- when it expires.
--
-- KEYS[1] grants  HASH  worker -> "<granted>:<in use>"
-- KEYS[2] seen    ZSET  worker -> grant expiry ms
-- ARGV[1] worker id
-- ARGV[2] slots wanted
-- ARGV[3] slots in use
-- ARGV[4] cap (0 = none)
-- ARGV[5] now (ms)
-- ARGV[6] grant lifetime (ms)
-- Reply: {granted, slots in use across workers}

local now = tonumber(ARGV[5])
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('HDEL', KEYS[1], gone)
  redis.call('ZREM', KEYS[2], gone)
end
local cap, wanted = tonumber(ARGV[4]), tonumber(ARGV[2])
local others, used = 0, tonumber(ARGV[3])
local grants = redis.call('HGETALL', KEYS[1])
for i = 1, #grants, 2 do
  if grants[i] ~= ARGV[1] then
    local g, u = string.match(grants[i + 1], '^(%d+):(%d+)$')
    others = others + tonumber(g)
    used = used + tonumber(u)
  end
end
local live = #grants / 2
if not redis.call('HGET', KEYS[1], ARGV[1]) then live = live + 1 end
local granted = wanted
if cap > 0 then
  local fair = math.max(tonumber(ARGV[3]), math.ceil(cap / live))
  granted = math.max(0, math.min(wanted, cap - others, fair))
end
redis.call('HSET', KEYS[1], ARGV[1], granted .. ':' .. ARGV[3])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), ARGV[1])
return {granted, used}
