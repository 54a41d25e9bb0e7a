// Benchmark peer: the same join/broadcast work as the gateway, in Socket.IO 4 with the Redis
// adapter (the seed's suggested comparison). No auth, no persistence.
// Env: PORT (required), HOST (default 127.0.0.1), REDIS_URL (optional: none = in-memory adapter).
"use strict";
const http = require("node:http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT);
const host = process.env.HOST || "127.0.0.1";
const redisUrl = process.env.REDIS_URL || "";

const httpServer = http.createServer((req, res) => {
  // Health probe for the harness; Socket.IO answers its own path before this handler.
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok\n");
    return;
  }
  res.writeHead(404);
  res.end();
});

const io = new Server(httpServer, {
  transports: ["websocket"], // clients skip long-polling, as the gateway has no fallback
  serveClient: false,
  perMessageDeflate: false, // the gateway runs compression=None too
  pingInterval: 20000,
  pingTimeout: 20000,
});

io.on("connection", (socket) => {
  socket.on("join", (room, cb) => {
    socket.join(String(room));
    if (typeof cb === "function") cb(room);
  });
  socket.on("msg", (room, content) => {
    // Every member including the sender, like the gateway's fan-out.
    io.to(String(room)).emit("msg", room, content);
  });
});

async function main() {
  if (redisUrl) {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  httpServer.listen(port, host, () => {
    process.stdout.write(`socketio peer listening on ${host}:${port} redis=${Boolean(redisUrl)}\n`);
  });
}

process.on("SIGTERM", () => {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});

main().catch((err) => {
  process.stderr.write(`peer failed: ${err && err.stack}\n`);
  process.exit(1);
});
