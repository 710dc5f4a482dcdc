-- GET a list of paths round-robin: wrk ... -s paths.lua URL -- PATHS_FILE
-- One path per line (already percent-encoded). Every connection of the thread shares the
-- counter, so consecutive requests ask for different resources.

local paths = {}
issued = 0

function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    if #line > 0 then paths[#paths + 1] = line end
  end
  f:close()
  assert(#paths > 0, "no paths in " .. args[1])
  wrk.headers["Accept"] = "application/fhir+json"
end

function request()
  issued = issued + 1
  return wrk.format("GET", paths[(issued - 1) % #paths + 1])
end
