-- SETTLE: record the outcomes of delivery attempts of one shard, and hand the messages
-- whose turn they brought to the settling worker.
--
-- KEYS[1] due        ZSET    message id -> due ms
-- KEYS[2] lease      ZSET    message id -> lease expiry ms
-- KEYS[3] log        STREAM  the shard's log
-- KEYS[4] dlq        ZSET    dead-letter id -> failed at ms
-- KEYS[5] flow_keys  SET     flow-control keys with a waitlist
-- ARGV[1] the shard's base (herald_core.keys.ShardKeys.base)
-- ARGV[2] log maxlen
-- ARGV[3] now (ms)
-- ARGV[4] lease (ms), for the tasks handed off
-- ARGV[5] hand-offs: most messages to claim for the worker
-- ARGV[6..] per outcome: code, message id, arg, event JSON, k, then k new messages
--           (callbacks; 8 values each, include/messages.lua `read_message`)
-- Reply: the tasks handed off, as CLAIM gives them: {id1, meta1, body1, retried1, ...}
--
-- Outcome codes (herald_core.scripts.messages.Outcome); each is a no-op when the message
-- is gone (cancelled, or settled by a racing worker):
--   'A' delivered: message removed, DELIVERED logged
--   'R' retry (arg "<retried>:<due ms>"): ERROR and RETRY logged, task due again
--   'F' failed for good (arg: dead-letter id): ERROR and FAILED logged, message moved to
--       the DLQ; the workflow run of a run's message (field w: a step, or a context.call's
--       answer into the run) has failed (include/runs.lua)
--   'D' defer without spending an attempt (arg: due ms)
-- New messages (callbacks) are stored only when the outcome took effect. A callback into a
-- workflow run of this shard (a `context.call`'s answer: `Upstash-Workflow-Runid`) is named
-- in the run's record (wr:<run id>, `s:cb:<id>`), so cancelling the run cancels it too, and
-- is not stored once the run has ended (but for the failure callback of the message that
-- failed the run, once: include/runs.lua).
-- Hand-off: an outcome that frees a flow-control or queue slot makes the next message in
-- line due; up to `hand-offs` of those are claimed here for the settling worker (whose
-- finished deliveries freed the slots), saving it a claim round trip.
-- @include messages
-- @include runs

local base, maxlen, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local function count(stats, outcome)
  redis.call('HINCRBY', stats, outcome, 1)
  redis.call('HINCRBY', stats, 'n', -1)
end
-- an attempt failed: counted, with its error (for the operator's Degraded condition)
local function errored(stats, x)
  local ok, ev = pcall(cjson.decode, x)
  local err = ok and type(ev) == 'table' and ev.error
  if type(err) ~= 'string' then err = 'failed' end
  redis.call('HINCRBY', stats, 'e', 1)
  redis.call('HSET', stats, 'le', string.sub(err, 1, 200), 'lt', now)
end
local function row(state, id, m, r, extra, x)
  local entry
  if extra then
    entry = redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', 's', state, 'id', id,
                       'm', m, 'r', r, 'x', x, 'n', extra)
  else
    entry = redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', 's', state, 'id', id,
                       'm', m, 'r', r, 'x', x)
  end
  if state ~= 'RETRY' then tick(base, state, entry) end
end
-- may `msg` (a callback) be stored? Yes, unless it goes into a run of this shard that ended.
-- A context.call's answer into a running run (`fromCallback`) is one of its messages: it
-- names its run (field w, set once it is stored), so dead-lettering it fails the run.
local function into_run(msg)
  local run_id = string.match(msg.meta, '"Upstash%-Workflow%-Runid":"([^"\\]+)"')
  if not run_id then return true end
  local run = key(base, 'run_prefix', run_id)
  local e = redis.call('HGET', run, 'e')
  if not e then return true end
  if e ~= '' then return false end
  redis.call('HSET', run, 's:cb:' .. msg.id, msg.id)
  if string.find(msg.meta, '"Upstash-Workflow-Calltype":"fromCallback"', 1, true) then
    return true, run_id
  end
  return true
end
local i = 6
while i <= #ARGV do
  local op, id, arg, x, k = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
  i = i + 5
  local hash = key(base, 'message_prefix', id)
  local done, holder, failed_run = false, false, false
  local leased = redis.call('ZREM', KEYS[2], id) == 1
  local f = redis.call('HMGET', hash, 'm', 'r', 'k', 'q', 'qh', 'w')
  if f[1] then
    done = true
    if f[4] and (op == 'A' or op == 'F') then
      local q = key(base, 'queue_prefix', f[4])
      if k > 0 and redis.call('EXISTS', q) == 1 then  -- its callbacks keep the slot
        redis.call('HSET', q, 'h:' .. id, k)
        holder = f[4] .. '\t' .. id
      else
        queue_done(base, KEYS[1], f[4], now)
      end
    end
    if f[5] and (op == 'A' or op == 'F') then hold_done(base, KEYS[1], f[5], now) end
    if f[3] and leased then release(base, KEYS[1], f[3], now) end
    local stats = f[3] and key(base, 'flow_prefix', (flow_of(f[3])))
    if stats and op ~= 'D' then redis.call('HDEL', stats, 'cf') end
    if stats and (op == 'R' or op == 'F') then errored(stats, x) end
    if op == 'A' then
      redis.call('DEL', hash)
      row('DELIVERED', id, f[1], f[2], false, x)
      if stats then
        count(stats, 'delivered')
        redis.call('HSET', stats, 'ld', now)
      end
    elseif op == 'R' then
      local sep = string.find(arg, ':', 1, true)
      local due = string.sub(arg, sep + 1)
      redis.call('HSET', hash, 'r', string.sub(arg, 1, sep - 1))
      redis.call('ZADD', KEYS[1], due, id)
      row('ERROR', id, f[1], f[2], false, x)
      row('RETRY', id, f[1], f[2], due, x)
    elseif op == 'F' then
      row('ERROR', id, f[1], f[2], false, x)
      row('FAILED', id, f[1], f[2], false, x)
      if stats then count(stats, 'failed') end
      local dkey = key(base, 'dlq_prefix', arg)
      redis.call('RENAME', hash, dkey)
      redis.call('HSET', dkey, 'x', x, 'f', now)
      redis.call('ZADD', KEYS[4], now, arg)
      if f[6] then
        failed_run = run_failed(base, f[6], arg, now)
        -- its run had ended (failed by another message): a plain dead letter, so the
        -- workflow DLQ lists each failed run once, with the message that failed it
        if not failed_run then redis.call('HDEL', dkey, 'w') end
      end
    else
      redis.call('ZADD', KEYS[1], arg, id)
    end
  end
  for _ = 1, k do
    local msg
    msg, i = read_message(i)
    -- the message that failed its run: its callbacks are the failure callback, which the
    -- FAILED run takes (a message of a run that had failed already: into_run refuses them)
    local ok, run_id = failed_run, nil
    if done and not failed_run then ok, run_id = into_run(msg) end
    if done and ok then
      store(base, KEYS[1], KEYS[3], maxlen, msg)
      if run_id then redis.call('HSET', key(base, 'message_prefix', msg.id), 'w', run_id) end
      if holder then redis.call('HSET', key(base, 'message_prefix', msg.id), 'qh', holder) end
      if failed_run then run_failure_callback(base, f[6], msg.id) end
    end
  end
end
local out = {}
for n = 1, math.min(tonumber(ARGV[5]), #freed) do
  if redis.call('ZSCORE', KEYS[1], freed[n]) then
    take(base, KEYS[1], KEYS[2], KEYS[3], KEYS[5], freed[n], now, tonumber(ARGV[4]), maxlen,
         out)
  end
end
return out
