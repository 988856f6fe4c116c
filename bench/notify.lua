-- wrk script (make bench): POST distinct SamCart purchases, every order id unique.
-- PRODUCTS: comma-separated SamCart product ids; BASE: first order id of this run.
local products = {}
for id in string.gmatch(os.getenv("PRODUCTS") or "900001", "[^,]+") do
  table.insert(products, '{"id":' .. id .. ',"name":"Bench","price":"24.00","quantity":1}')
end
local base = tonumber(os.getenv("BASE") or "1000000000")
local threads = 0
local counter = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function request()
  counter = counter + 1
  local id = string.format("%d", base + tid * 100000000 + counter)
  local body = '{"type":"Order","api_key":null,"products":[' .. table.concat(products, ",") ..
    '],"customer":{"first_name":"Ben","last_name":"Ch","email":"bench@example.com"},' ..
    '"order":{"id":' .. id .. ',"shipping_address":"1 Main St","shipping_city":"Austin",' ..
    '"shipping_state":"TX","shipping_zip":"78745","shipping_country":"United States"},' ..
    '"affiliate":[]}'
  return wrk.format(nil, nil, nil, body)
end
