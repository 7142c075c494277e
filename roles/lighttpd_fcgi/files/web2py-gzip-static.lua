-- web2py.deploy.lighttpd_fcgi: precompressed static files (mod_magnet, on the physical path of
-- /applications/<app>/static/ only). A client that accepts gzip gets <file>.gz when the web2py
-- role made it (web2py_static_gzip_extensions), with the file's own type and
-- Content-Encoding: gzip; every answer varies on Accept-Encoding. lighttpd's mod_deflate only
-- compresses on the fly and never reads a .gz beside the file.
local r = lighty.r

-- gzip is acceptable: listed (or x-gzip) without q=0 (RFC 9110: a weight of 0 refuses it).
local function accepts_gzip(header)
  if not header then return false end
  for item in string.gmatch(header, "[^,]+") do
    local coding, params = string.match(item, "^%s*([^;%s]+)%s*(.*)$")
    if coding then
      coding = string.lower(coding)
      if coding == "gzip" or coding == "x-gzip" then
        local q = string.match(params, "[Qq]%s*=%s*([%d.]+)")
        return q == nil or tonumber(q) ~= nil and tonumber(q) > 0
      end
    end
  end
  return false
end

local path = r.req_attr["physical.path"]
if not path then return 0 end
r.resp_header["Vary"] = "Accept-Encoding"
if not accepts_gzip(r.req_header["Accept-Encoding"]) then return 0 end
local original = lighty.c.stat(path)
local packed = lighty.c.stat(path .. ".gz")
-- Only a .gz that is not older than its file (as web2py's own static handler): one left
-- behind by a file changed since the deploy is never sent instead of it.
-- (server.follow-symlink = "disable" refuses a linked .gz all the same)
if original and original.is_file and packed and packed.is_file and packed.st_mtime >= original.st_mtime then
  r.req_attr["physical.path"] = path .. ".gz"
  r.resp_header["Content-Type"] = original["content-type"] or "application/octet-stream"
  r.resp_header["Content-Encoding"] = "gzip"
end
return 0
