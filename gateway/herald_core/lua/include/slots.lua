-- Slots: flow control and queues, what limits how many of a shard's messages run at once.
--
-- Flow control lives in the shard of its key (every message of a flow-control key is
-- stored in the same shard), so limits hold across all gateways and every check is part of
-- the script that claims or settles: no extra round trip, and Cluster-safe.
--   flow_prefix .. <key>      HASH  a: active deliveries, n: messages stored,
--                                   delivered / failed: counters, paused: '1' holds every
--                                   task, e: failed attempts, le / lt: the last one's error
--                                   and ms, ld: ms of the last delivery,
--                                   cf: ms of the first claim since an attempt last ended
--                                   (the operator's delivery health:
--                                   herald_core.delivery_stats),
--                                   cp / cr / cw: parallelism, rate, period ms in force (the
--                                   latest message's, unless pinned: pp / pr = '1')
--   rate_prefix .. <key>      ZSET  starts within the last rate period (a sliding window)
--   waitlist_prefix .. <key>  ZSET  the key's waitlist: message id -> due (FIFO release)
--   flow_keys                 SET   keys that have a waitlist (so "cancel all" finds them)
--   flow_all                  SET   every key of the shard (GET /v2/flowControl)
-- Queues (`pump`):
--   queue_prefix .. <name>       HASH  p: parallelism, paused, a: messages holding a slot,
--                                      n: messages not yet finished (lag), seq,
--                                      c / u: created / updated ms,
--                                      h:<message id>: callbacks left (`hold_done`)
--   queue_wait_prefix .. <name>  ZSET  messages waiting for a slot, in arrival order (seq)
--   queues                       SET   the shard's queue names
-- @include keys

-- ids `pump` and `release` just made due (a slot freed): SETTLE hands them to its worker
local freed = {}

-- a message's flow control as stored (hash field k): "<key>\t<parallelism>\t<rate>\t<period>"
local function flow_of(spec)
  local k, p, q, w = string.match(spec, '^(.*)\t(%d+)\t(%d+)\t(%d+)$')
  return k, tonumber(p), tonumber(q), tonumber(w)
end

-- A queue's messages start in its FIFO waitlist; `pump` moves the oldest to `due` while
-- fewer than `parallelism` hold a slot. A message holds its slot from then until it is
-- delivered, failed or cancelled — across its retries — so parallelism 1 is strict order.
local function pump(base, due, name, now)
  local q = key(base, 'queue_prefix', name)
  local f = redis.call('HMGET', q, 'p', 'a', 'paused')
  if f[3] == '1' then return end
  local free = (tonumber(f[1]) or 1) - (tonumber(f[2]) or 0)
  if free <= 0 then return end
  local waiting = key(base, 'queue_wait_prefix', name)
  local ids = redis.call('ZRANGE', waiting, 0, free - 1)
  for _, id in ipairs(ids) do
    redis.call('ZREM', waiting, id)
    redis.call('ZADD', due, now, id)
    freed[#freed + 1] = id
  end
  redis.call('HINCRBY', q, 'a', #ids)
end

-- a queue's message is finished (delivered, failed or cancelled while holding a slot)
local function queue_done(base, due, name, now)
  local q = key(base, 'queue_prefix', name)
  if redis.call('EXISTS', q) == 0 then return end  -- the queue was deleted meanwhile
  if tonumber(redis.call('HINCRBY', q, 'a', -1)) < 0 then redis.call('HSET', q, 'a', 0) end
  if tonumber(redis.call('HINCRBY', q, 'n', -1)) < 0 then redis.call('HSET', q, 'n', 0) end
  pump(base, due, name, now)
end

-- A queue message's callbacks hold its slot until they are delivered or fail too (QStash
-- waits for them): its queue keeps h:<message id> = callbacks left, and each callback
-- carries qh = "<queue>\t<message id>".
local function hold_done(base, due, holder, now)
  local name, origin = string.match(holder, '^(.*)\t([^\t]*)$')
  local q = key(base, 'queue_prefix', name)
  if redis.call('EXISTS', q) == 0 then return end
  if tonumber(redis.call('HINCRBY', q, 'h:' .. origin, -1)) <= 0 then
    redis.call('HDEL', q, 'h:' .. origin)
    queue_done(base, due, name, now)
  end
end

-- an attempt of a flow-controlled message ended: free its slot, wake the next in line
local function release(base, due, flow, now)
  local fkey = flow_of(flow)
  local state = key(base, 'flow_prefix', fkey)
  if tonumber(redis.call('HINCRBY', state, 'a', -1)) < 0 then redis.call('HSET', state, 'a', 0) end
  local waiting = key(base, 'waitlist_prefix', fkey)
  local next_id = redis.call('ZRANGE', waiting, 0, 0)[1]
  if next_id then
    redis.call('ZREM', waiting, next_id)
    redis.call('ZADD', due, now, next_id)
    freed[#freed + 1] = next_id
  end
end

-- may this flow-controlled task start now? (takes a slot and a rate token if so; else it
-- joins the key's waitlist, or waits in `due` for the rate window to move)
-- The rate is a sliding window: at most `rate` starts within any `period`.
local function admit(base, due, flow_keys, id, flow, now)
  local fkey = flow_of(flow)
  local state = key(base, 'flow_prefix', fkey)
  local f = redis.call('HMGET', state, 'a', 'paused', 'cp', 'cr', 'cw')
  local active = tonumber(f[1]) or 0
  local parallelism, rate = tonumber(f[3]) or 0, tonumber(f[4]) or 0
  local period = tonumber(f[5]) or 1000
  if f[2] == '1' or (parallelism > 0 and active >= parallelism) then
    redis.call('ZADD', key(base, 'waitlist_prefix', fkey), now, id)
    redis.call('SADD', flow_keys, fkey)
    return false
  end
  if rate > 0 then
    local starts = key(base, 'rate_prefix', fkey)
    redis.call('ZREMRANGEBYSCORE', starts, '-inf', now - period)
    if redis.call('ZCARD', starts) >= rate then
      local oldest = redis.call('ZRANGE', starts, 0, 0, 'WITHSCORES')[2]
      redis.call('ZADD', due, tonumber(oldest) + period, id)
      return false
    end
    redis.call('ZADD', starts, now, id)
    redis.call('PEXPIRE', starts, period)
  end
  redis.call('HSET', state, 'a', active + 1)
  return true
end
