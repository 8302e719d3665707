-- PUT of a random preloaded key: 200 {"result":"replaced"}.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local c = require("common")
local n = 1000
setup = c.setup
done = c.done
function init(args) n = c.init(args) end
function request() return c.put("/kvs/" .. c.key(math.random(0, n - 1))) end
