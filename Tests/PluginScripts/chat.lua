-- Bot for the record/replay test: a login, a subscription, a binary frame, a clean close.
-- With ALT set in the environment it subscribes to something else (a regression).
local topic = os.getenv("CHAT_TOPIC") or "news"
local replies = 0
function onOpen(c, r) print("open " .. r.code) c:send("login alice") end
function onMessage(c, data, length, kind)
  replies = replies + 1
  print(string.format("got %s %d %s", kind, length, kind == "text" and data or ""))
  if replies == 1 then
    c:send("subscribe " .. topic)
    c:send(string.char(0, 1, 2, 255), { binary = true })
  elseif replies == 3 then
    c:close(1000, "done")
  end
end
function onClose(c, r) print("close " .. r.code .. " " .. r.reason) end
