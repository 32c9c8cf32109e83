-- Key names of a shard, built from its base `<prefix>:{<shard>}:` (herald_core.keys,
-- ShardKeys.base, handed over in ARGV). LAYOUT maps each ShardKeys field to what follows
-- the base; it is not written here: herald_core.scripts.lua generates it from
-- herald_core.keys.SHARD_LAYOUT when it loads a script, so every key name is spelled in
-- one place. The keys built here carry the base's hash tag: on Redis Cluster they live in
-- the slot of the script's declared KEYS.
-- @include layout

-- key(base, 'queue_prefix', 'orders') is herald:{3}:q:orders; key(base, 'queues') herald:{3}:qk
local function key(base, field, name) return base .. LAYOUT[field] .. (name or '') end
