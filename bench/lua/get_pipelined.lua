-- GET of one key, 16 requests pipelined per write, as a forwarder's batch reaches main.
-- TAG (environment): a Kvs-Tag value to send on each, as a forwarder does; empty: none.
local tag = os.getenv("TAG")

init = function(args)
  local headers = {}
  if tag and tag ~= "" then headers["Kvs-Tag"] = tag end
  local batch = {}
  for i = 1, 16 do batch[i] = wrk.format("GET", "/kvs/a", headers) end
  req = table.concat(batch)
end

request = function() return req end
