-- wrk script: the buyer's checkout + confirm-payment flow, as fast as it goes.
-- Each thread is one buyer (a line of the file BENCH_TOKENS, by thread number)
-- and takes its own share of the available cars listed in BENCH_CARS (one id
-- per line; every checkout needs a car nobody bought yet). A checkout answer
-- queues its order id; the next request of that thread confirms it.
-- done() prints "BENCH_RESULT {json}" with the number of confirmed flows.

local thread_count = 0
local threads = {}

function setup(thread)
    thread:set("thread_id", thread_count)
    thread_count = thread_count + 1
    table.insert(threads, thread)
end

local headers = {}
local cars = {}
local next_car = 0
local pending = {}
checkouts = 0
confirmations = 0
exhausted = 0

function init(args)
    local tokens = {}
    for line in io.lines(os.getenv("BENCH_TOKENS")) do
        tokens[#tokens + 1] = line
    end
    headers["Authorization"] = "Bearer " .. tokens[thread_id % #tokens + 1]
    headers["Content-Type"] = "application/json"
    local threads_total = tonumber(os.getenv("BENCH_THREADS"))
    local index = 0
    for line in io.lines(os.getenv("BENCH_CARS")) do
        if index % threads_total == thread_id then
            cars[#cars + 1] = line
        end
        index = index + 1
    end
end

function request()
    if #pending > 0 then
        local order_id = table.remove(pending, 1)
        return wrk.format("POST", "/api/payments/confirm-payment", headers, '{"orderId":' .. order_id .. '}')
    end
    next_car = next_car + 1
    if next_car > #cars then
        exhausted = exhausted + 1
        next_car = 1 -- reused cars fail with 400: the pool was too small (reported)
    end
    return wrk.format("POST", "/api/payments/checkout", headers, '{"carId":' .. cars[next_car] .. '}')
end

function response(status, _, body)
    if status ~= 200 or body == nil then
        return
    end
    if body:find('"Order created"', 1, true) then
        local order_id = body:match('"order":%s*{.-"id":%s*(%d+)')
        if order_id then
            checkouts = checkouts + 1
            pending[#pending + 1] = order_id
        end
    elseif body:find('"Payment confirmed"', 1, true) then
        confirmations = confirmations + 1
    end
end

function done(summary, latency, _)
    local confirmed, created, reused = 0, 0, 0
    for _, thread in ipairs(threads) do
        confirmed = confirmed + thread:get("confirmations")
        created = created + thread:get("checkouts")
        reused = reused + thread:get("exhausted")
    end
    io.write(string.format(
        'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"errors_connect":%d,"errors_read":%d,'
            .. '"errors_write":%d,"errors_status":%d,"errors_timeout":%d,"p50_us":%d,"p90_us":%d,'
            .. '"p99_us":%d,"max_us":%d,"mean_us":%.1f,"checkouts":%d,"confirmations":%d,"pool_exhausted":%d}\n',
        summary.requests, summary.duration, summary.bytes, summary.errors.connect, summary.errors.read,
        summary.errors.write, summary.errors.status, summary.errors.timeout, latency:percentile(50),
        latency:percentile(90), latency:percentile(99), latency.max, latency.mean, created, confirmed, reused))
end
