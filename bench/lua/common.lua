-- Shared by every bench script: key names, the PUT body, per-thread seeding and the
-- one-line JSON summary the runner parses. Scripts take the key-space size as their
-- first argument (wrk ... -s get_hit.lua URL -- 1000).
--
-- Keys are "k" plus seven digits (8 bytes); values are the 20-byte JSON string below.
-- bench/run.py builds the same names for its memory-per-key arithmetic.

local M = {}

M.host = "127.0.0.1"
M.value_json = '"v-0123456789abcdef"'
M.put_body = '{"value":' .. M.value_json .. '}'

function M.key(n) return string.format("k%07d", n) end

function M.get(path)
  return "GET " .. path .. " HTTP/1.1\r\nHost: " .. M.host .. "\r\n\r\n"
end

function M.put(path)
  return "PUT " .. path .. " HTTP/1.1\r\nHost: " .. M.host ..
    "\r\nContent-Type: application/json\r\nContent-Length: " .. #M.put_body .. "\r\n\r\n" .. M.put_body
end

function M.delete(path)
  return "DELETE " .. path .. " HTTP/1.1\r\nHost: " .. M.host .. "\r\n\r\n"
end

local counter = 0
function M.setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

-- Call from init(args): returns the key-space size and seeds this thread's generator.
function M.init(args)
  local n = tonumber(args[1]) or 1000
  math.randomseed(os.time() * 1000 + (tonumber(tid) or 0) * 7919)
  return n
end

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end

return M
