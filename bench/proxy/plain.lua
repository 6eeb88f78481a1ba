-- Unpaced: each wrk connection sends the next request as soon as the previous one is answered.
request = function()
  return wrk.format("GET", "/v1/payments/pay_abcdefgh")
end
