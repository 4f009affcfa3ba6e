/** Lua scripts more than one action family runs (revocation epochs: tokens.revoke and secrets.rotate_jwt_key). */

// "Revoked before" only moves forward: a retry, or an older request arriving
// late, never lowers an epoch somebody else raised.
export const RAISE_EPOCH_SCRIPT = `
local epoch = tonumber(ARGV[1])
local raised = 0
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '')
  if current == nil or current < epoch then
    redis.call('SET', KEYS[i], ARGV[1], 'EX', ARGV[2])
    raised = raised + 1
  end
end
return raised
`;
