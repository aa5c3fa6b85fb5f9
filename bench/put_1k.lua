-- wrk script: keep-alive PUT of a 1 KiB body to the URL given on the command line (one bucket, overwritten).
-- wrk adds Content-Length for the body.
wrk.method = "PUT"
wrk.body = string.rep("x", 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
