-- Conditional PUT of a random preloaded key with "If-Match: *" (the key exists, so the
-- condition holds): 200 {"result":"replaced"}, the precondition parsed and checked each time.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local c = require("common")
local n = 1000
setup = c.setup
done = c.done
function init(args) n = c.init(args) end
function request()
  return "PUT /kvs/" .. c.key(math.random(0, n - 1)) .. " HTTP/1.1\r\nHost: " .. c.host ..
    "\r\nIf-Match: *\r\nContent-Type: application/json\r\nContent-Length: " .. #c.put_body .. "\r\n\r\n" .. c.put_body
end
