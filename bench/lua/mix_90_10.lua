-- 90% GET of a random preloaded key, 10% PUT (replace) of a random preloaded key.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local c = require("common")
local n = 1000
setup = c.setup
done = c.done
function init(args) n = c.init(args) end
function request()
  local path = "/kvs/" .. c.key(math.random(0, n - 1))
  if math.random() < 0.9 then return c.get(path) end
  return c.put(path)
end
