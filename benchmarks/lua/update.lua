-- Update with optimistic locking: wrk ... -s update.lua URL -- UPDATES_FILE
-- Each line is "PATH<TAB>ETAG<TAB>BODY": a distinct existing resource, the ETag of its
-- current version and a changed body. Every line is used once, so each PUT carries the
-- version that is current at that moment and no request is a deliberate 412. run.py writes
-- a fresh file (resources never updated before) for every run and sizes it from the
-- measured rate; if a run ever outruns its file the script wraps around, the server answers
-- 412 and run.py reports those as errors instead of hiding them.

local lines = {}
issued = 0

function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    local path, etag, body = line:match("^([^\t]+)\t([^\t]+)\t(.+)$")
    if path then lines[#lines + 1] = { path, etag, body } end
  end
  f:close()
  assert(#lines > 0, "no updates in " .. args[1])
end

function request()
  issued = issued + 1
  local item = lines[(issued - 1) % #lines + 1]
  -- wrk.format uses these headers instead of wrk.headers (it only copies Host over)
  local headers = {
    ["Accept"] = "application/fhir+json",
    ["Content-Type"] = "application/fhir+json",
    ["If-Match"] = item[2],
  }
  return wrk.format("PUT", item[1], headers, item[3])
end
