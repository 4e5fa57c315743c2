-- wrk script: cycle through the requests listed in the file named by the
-- BENCH_REQUESTS environment variable, one per line:
--     METHOD <tab> PATH <tab> TOKEN <tab> BODY      (TOKEN and BODY may be empty)
-- A token becomes "Authorization: Bearer <token>", a body is sent as JSON.
-- BENCH_GZIP=1 adds "Accept-Encoding: gzip". Each thread starts at another
-- line. done() prints one line "BENCH_RESULT {json}" for bench/run.py.

local thread_count = 0
local threads = {}

function setup(thread)
    thread:set("thread_id", thread_count)
    thread_count = thread_count + 1
    table.insert(threads, thread)
end

local requests = {}
local position = 0

function init(args)
    for line in io.lines(os.getenv("BENCH_REQUESTS")) do
        local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
        if method then
            local headers = {}
            if token ~= "" then
                headers["Authorization"] = "Bearer " .. token
            end
            if body ~= "" then
                headers["Content-Type"] = "application/json"
            else
                body = nil
            end
            if os.getenv("BENCH_GZIP") == "1" then
                headers["Accept-Encoding"] = "gzip"
            end
            requests[#requests + 1] = wrk.format(method, path, headers, body)
        end
    end
    position = (thread_id * 7919) % #requests
end

function request()
    position = position % #requests + 1
    return requests[position]
end

function done(summary, latency, _)
    io.write(string.format(
        'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"errors_connect":%d,"errors_read":%d,'
            .. '"errors_write":%d,"errors_status":%d,"errors_timeout":%d,"p50_us":%d,"p90_us":%d,'
            .. '"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
        summary.requests, summary.duration, summary.bytes, summary.errors.connect, summary.errors.read,
        summary.errors.write, summary.errors.status, summary.errors.timeout, latency:percentile(50),
        latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
