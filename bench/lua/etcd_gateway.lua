-- The same load as put_replace.lua / get_hit.lua, sent to etcd's own v3 JSON gateway:
-- the key the main over etcd would use ("/kvs/" .. key, base64) and the same value.
-- Args: key-space size, then "put" or "get".
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local c = require("common")
local n = 1000
local op = "get"
setup = c.setup
done = c.done

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, d = s:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (d or 0)
    for j = 3, 0, -1 do
      local k = math.floor(v / 64 ^ j) % 64
      out[#out + 1] = alphabet:sub(k + 1, k + 1)
    end
    if not d then out[#out] = "=" end
    if not b then out[#out - 1] = "=" end
  end
  return table.concat(out)
end

local value = base64(c.value_json)

function init(args)
  n = c.init(args)
  op = args[2] or "get"
end

local function post(path, body)
  return "POST " .. path .. " HTTP/1.1\r\nHost: " .. c.host ..
    "\r\nContent-Type: application/json\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
end

function request()
  local key = base64("/kvs/" .. c.key(math.random(0, n - 1)))
  if op == "put" then
    return post("/v3/kv/put", '{"key":"' .. key .. '","value":"' .. value .. '","prev_kv":true}')
  end
  return post("/v3/kv/range", '{"key":"' .. key .. '"}')
end
