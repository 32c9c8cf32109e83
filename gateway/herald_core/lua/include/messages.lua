-- Messages: storing a new one, claiming a due one, and the log rows both write.
--
-- A message hash (message_prefix .. <id>): m metadata JSON, b body, r retries done,
-- t timeout ms, k flow control (`flow_of`), q queue name, qh queue slot it holds
-- (`hold_done`). Every state change appends its row to the shard's log stream in the same
-- script, so a row exists exactly when the change does. Log rows (stream fields): s state,
-- id message id, m metadata JSON, b body (CREATED only, when small), r retries done,
-- n next delivery (ms), x event JSON (error, response).
-- @include slots

-- A new message in ARGV: 8 values from index i, in the order of
-- herald_core.scripts.messages.NewMessageArgs: id, metadata JSON, body, timeout ms, due ms,
-- '1' to log the body, flow control (`flow_of`; '' = none), queue name ('' = none).
-- Returns it and the index of what follows it.
local function read_message(i)
  return {id = ARGV[i], meta = ARGV[i + 1], body = ARGV[i + 2], timeout = ARGV[i + 3],
          due = ARGV[i + 4], log_body = ARGV[i + 5] == '1', flow = ARGV[i + 6],
          queue = ARGV[i + 7]}, i + 8
end

-- Activity counters (herald_core.activity, the console's charts): per shard and hour, a
-- hash of "<state>:<10 s slot>" -> log rows written; the time is the log entry's id.
local function tick(base, state, entry)
  local ms = tonumber(string.match(entry, '^(%d+)'))
  local counters = key(base, 'stats_prefix', math.floor(ms / 3600000))
  if redis.call('HINCRBY', counters, state .. ':' .. math.floor(ms / 10000), 1) == 1 then
    redis.call('PEXPIRE', counters, 90000000)  -- 25 h
  end
end

-- store one new message, due at msg.due; a queue's message waits in its queue instead
-- (the queue is created on first use)
local function store(base, due, log, maxlen, msg)
  local id = msg.id
  local hash = key(base, 'message_prefix', id)
  redis.call('HSET', hash, 'm', msg.meta, 'b', msg.body, 'r', 0, 't', msg.timeout)
  if msg.flow ~= '' then
    redis.call('HSET', hash, 'k', msg.flow)
    local fkey, parallelism, rate, period = flow_of(msg.flow)
    local state = key(base, 'flow_prefix', fkey)
    redis.call('HINCRBY', state, 'n', 1)
    redis.call('SADD', key(base, 'flow_all'), fkey)
    local pins = redis.call('HMGET', state, 'pp', 'pr')
    if pins[1] ~= '1' then redis.call('HSET', state, 'cp', parallelism) end
    if pins[2] ~= '1' then redis.call('HSET', state, 'cr', rate, 'cw', period) end
  end
  local queue = msg.queue
  if queue ~= '' then
    local q = key(base, 'queue_prefix', queue)
    redis.call('HSET', hash, 'q', queue)
    if redis.call('HSETNX', q, 'c', msg.due) == 1 then
      redis.call('HSET', q, 'p', 1, 'u', msg.due)
      redis.call('SADD', key(base, 'queues'), queue)
    end
    redis.call('HINCRBY', q, 'n', 1)
    local seq = redis.call('HINCRBY', q, 'seq', 1)
    redis.call('ZADD', key(base, 'queue_wait_prefix', queue), seq, id)
    pump(base, due, queue, msg.due)
  else
    redis.call('ZADD', due, msg.due, id)
  end
  local entry
  if msg.log_body then
    entry = redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 's', 'CREATED', 'id', id,
                       'm', msg.meta, 'b', msg.body)
  else
    entry = redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 's', 'CREATED', 'id', id,
                       'm', msg.meta)
  end
  tick(base, 'CREATED', entry)
end

-- claim one due task: leased until now + lease ms (the worker renews it while the attempt
-- runs: RENEW) and logged ACTIVE, unless its flow-control key says wait; appends id,
-- metadata, body, retries done to `out`
local function take(base, due, lease, log, flow_keys, id, now, lease_ms, maxlen, out)
  redis.call('ZREM', due, id)
  local f = redis.call('HMGET', key(base, 'message_prefix', id), 'm', 'b', 'r', 'k')
  if f[1] and (not f[4] or admit(base, due, flow_keys, id, f[4], now)) then
    if f[4] then redis.call('HSETNX', key(base, 'flow_prefix', (flow_of(f[4]))), 'cf', now) end
    redis.call('ZADD', lease, now + lease_ms, id)
    redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 's', 'ACTIVE', 'id', id,
               'm', f[1], 'r', f[3])
    out[#out + 1] = id
    out[#out + 1] = f[1]
    out[#out + 1] = f[2]
    out[#out + 1] = f[3]
  end
end
