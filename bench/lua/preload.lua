-- Preload keys k0000000 .. k<n-1> with PUTs, then stop. Run with ONE thread
-- (wrk -t1 -cN): the counter lives in this thread's Lua state. Requests past n
-- start again from k0000000 (harmless replaces) until the runner stops wrk: wrk drops
-- the very first request its script generates, so k0000000 needs the second pass.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local c = require("common")
local n = 1000
local sent = 0
local answered = 0
done = c.done
function init(args) n = c.init(args) end
function request()
  local k = sent % n
  sent = sent + 1
  return c.put("/kvs/" .. c.key(k))
end
function response(status, headers, body)
  answered = answered + 1
  if answered >= n + 64 then wrk.thread:stop() end
end
