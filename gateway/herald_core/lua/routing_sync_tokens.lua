-- ROUTING_SYNC_TOKENS: make one owner (a namespace's token Secret) hold exactly these
-- token hashes: removes the owner's other hashes (and only the owner's), then records the
-- given ones.
--
-- KEYS[1] tokens   HASH    sha256(token) hex -> <ns>/<secret name>
-- KEYS[2] version  STRING  bumped by every routing or token change
-- ARGV[1] channel
-- ARGV[2] owner (<ns>/<secret>)
-- ARGV[3..] the token hashes the owner holds now
-- Reply: 0 without writing when the owner held exactly these already, else the new version

local want = {}
for i = 3, #ARGV do want[ARGV[i]] = true end
local all = redis.call('HGETALL', KEYS[1])
local drop, held = {}, {}
for i = 1, #all, 2 do
  if all[i + 1] == ARGV[2] then
    if want[all[i]] then held[all[i]] = true else drop[#drop + 1] = all[i] end
  end
end
local add = {}
for i = 3, #ARGV do
  if not held[ARGV[i]] then add[#add + 1] = ARGV[i] end
end
if #drop == 0 and #add == 0 then return 0 end
for _, field in ipairs(drop) do redis.call('HDEL', KEYS[1], field) end
for _, field in ipairs(add) do redis.call('HSET', KEYS[1], field, ARGV[2]) end
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], 'tokens')
return version
