-- Paces each wrk connection: one request every `delay()` ms after the previous answer, so
-- `-c N` connections make about N * 1000 / (PACE_MS + latency) requests per second.
-- wrk is closed-loop; this is the nearest it gets to a fixed rate.
local pace = tonumber(os.getenv("PACE_MS") or "9")
request = function()
  return wrk.format("GET", "/v1/payments/pay_abcdefgh")
end
function delay()
  return pace
end
