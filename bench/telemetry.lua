-- wrk script: every request is one charger's telemetry upload; the bearer token rotates
-- over the bench's chargers so per-device work (auth, rate counters) is real.
local tokens = {}
local index = 0

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  index = math.random(#tokens)
end

function request()
  index = index % #tokens + 1
  local body = string.format(
    '{"timestamp":"%s","connector_id":1,"state":"charging","voltage":230.1,"current":31.9,' ..
    '"power":7.2,"energy_delivered":%d.5,"soc":%d,"temperature":36.5}',
    os.date("!%Y-%m-%dT%H:%M:%SZ"), index % 50, index % 100)
  return wrk.format("POST", "/v1/device/telemetry", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[index],
  }, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
