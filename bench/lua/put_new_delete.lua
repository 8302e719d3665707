-- PUT of a brand-new key (201) and, interleaved, DELETE of the key this thread created
-- LAG PUTs earlier (200). The lag (well above the connections per thread) makes it near
-- certain the PUT has been answered before its DELETE is sent; the store stays at its
-- preloaded size plus a few hundred keys per thread. Keys never collide with preloaded
-- ones ("n<thread>-<counter>").
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local c = require("common")
local LAG = 2048
local step = 0
local id = 0
setup = c.setup
done = c.done
function init(args) c.init(args); id = tonumber(tid) or 0 end
function request()
  step = step + 1
  local j = math.floor(step / 2)
  if step % 2 == 1 or j - LAG < 0 then
    return c.put("/kvs/n" .. id .. "-" .. step)
  end
  -- Even steps delete the key written at odd step 2*(j-LAG)+1.
  return c.delete("/kvs/n" .. id .. "-" .. (2 * (j - LAG) + 1))
end
