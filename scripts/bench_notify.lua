-- wrk script: POST distinct SamCart purchases (one product) to the Notify URL.
-- wrk -t2 -c8 -d20s -s scripts/bench_notify.lua '<Notify URL>'   (PRODUCT env: product id)
local counter = 0
local product = os.getenv("PRODUCT") or "279813"
local base = os.time() * 1000
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  counter = counter + 1
  local id = base + counter * 100 + math.random(0, 99)
  local body = '{"type":"Order","api_key":null,"products":[{"id":' .. product ..
    ',"name":"Bench","price":"24.00","quantity":1}],"customer":{"first_name":"Ben","last_name":"Ch",' ..
    '"email":"bench@example.com"},"order":{"id":' .. id .. ',"shipping_address":"1 Main St",' ..
    '"shipping_city":"Austin","shipping_state":"TX","shipping_zip":"78745","shipping_country":"United States"},' ..
    '"affiliate":[]}'
  return wrk.format(nil, nil, nil, body)
end
