-- GET of a key that was never stored: 404 {"error":"Key does not exist"}.
-- (wrk counts the 404s as "status errors"; the runner expects them here.)
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local c = require("common")
local n = 1000
setup = c.setup
done = c.done
function init(args) n = c.init(args) end
function request() return c.get("/kvs/" .. string.format("x%07d", math.random(0, n - 1))) end
