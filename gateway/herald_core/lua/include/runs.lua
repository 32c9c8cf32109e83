-- Workflow runs (herald_core.workflows): what scripts other than the workflow ones need.
-- Every message of a run's steps names its run in its hash (field w), so the script that
-- dead-letters it marks the run failed.
-- @include keys

-- the run id of a run's record key (herald_core.keys: run_prefix .. <run id>)
local function run_of(base, run_key)
  return string.sub(run_key, #key(base, 'run_prefix') + 1)
end

-- a step of run `run_id` failed for good (dead letter `dlq_id`): a running run has FAILED
-- (record fields e, d the dead letter, t when), is no longer running (runs_running), and
-- expires after x ms (the DLQ retention) unless the DLQ resumes or restarts it. True when
-- this failed the run; false when it was gone or had ended (failed by another message)
local function run_failed(base, run_id, dlq_id, now)
  local run = key(base, 'run_prefix', run_id)
  local f = redis.call('HMGET', run, 'e', 'x')
  if f[1] ~= '' then return false end  -- gone, or ended already
  redis.call('HSET', run, 'e', 'FAILED', 'd', dlq_id, 't', now)
  redis.call('ZREM', key(base, 'runs_running'), run_id)
  if f[2] then
    redis.call('PEXPIRE', run, f[2])
    redis.call('PEXPIRE', key(base, 'run_steps_prefix', run_id), f[2])
  end
  return true
end

-- the failure callback of a run's failed step (a step's message carries no other
-- callback: the SDKs set `Upstash-Callback` only on context.call messages, which are not
-- steps) is message `id` (record field fc: herald_core.workflow_failures reads its state)
local function run_failure_callback(base, run_id, id)
  local run = key(base, 'run_prefix', run_id)
  if redis.call('HGET', run, 'e') == 'FAILED' then redis.call('HSET', run, 'fc', id) end
end
