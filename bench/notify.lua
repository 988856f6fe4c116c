-- wrk script (make bench): POST SamCart purchases, every order id unique unless MIX says so.
-- PRODUCTS: comma-separated SamCart product ids; BASE: first order id of this run.
-- MIX=flash (the flash sale): of every 10 requests, one resends the purchase sent 7 requests
-- earlier (often still in flight on another connection: a racing duplicate) and one sells
-- UNKNOWN, a product no project maps (no_match); the other 8 are new purchases.
local function items(list)
  local out = {}
  for id in string.gmatch(list, "[^,]+") do
    table.insert(out, '{"id":' .. id .. ',"name":"Bench","price":"24.00","quantity":1}')
  end
  return table.concat(out, ",")
end
local products = items(os.getenv("PRODUCTS") or "900001")
local unknown = items(os.getenv("UNKNOWN") or "800001")
local mix = os.getenv("MIX") or ""
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
  local n, sold = counter, products
  if mix == "flash" and counter % 10 == 3 and counter > 7 then
    n = counter - 7 -- a resend of an earlier purchase (counter - 7 ends in 6: a new one)
  elseif mix == "flash" and counter % 10 == 7 then
    sold = unknown
  end
  local id = string.format("%d", base + tid * 100000000 + n)
  local body = '{"type":"Order","api_key":null,"products":[' .. sold ..
    '],"customer":{"first_name":"Ben","last_name":"Ch","email":"bench@example.com"},' ..
    '"order":{"id":' .. id .. ',"shipping_address":"1 Main St","shipping_city":"Austin",' ..
    '"shipping_state":"TX","shipping_zip":"78745","shipping_country":"United States"},' ..
    '"affiliate":[]}'
  return wrk.format(nil, nil, nil, body)
end
