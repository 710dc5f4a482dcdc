-- POST the same JSON body to one path: wrk ... -s post.lua URL -- PATH BODY_FILE
-- Used for create (the body has no id, so every request creates a new resource) and for
-- transaction Bundles (POST to the base; the entries are creates with urn:uuid fullUrls).

local path, body
issued = 0

function init(args)
  path = args[1]
  local f = assert(io.open(args[2], "rb"))
  body = f:read("*a")
  f:close()
  wrk.headers["Accept"] = "application/fhir+json"
  wrk.headers["Content-Type"] = "application/fhir+json"
end

function request()
  issued = issued + 1
  return wrk.format("POST", path, nil, body)
end
