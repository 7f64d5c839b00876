/**
 * The local WebSocket→TCP tunnel the Neon serverless driver needs to reach a
 * plain Postgres: Neon's wsproxy protocol, raw Postgres bytes in binary frames at
 * `/v2?address=host:port`. It forwards only to the servers it was made for.
 */

import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { connect } from "node:net";
import type { WebSocketServer as WSS } from "ws";

// Under the vitest Workers plugin `import "ws"` resolves to its browser stub.
const { WebSocketServer } = createRequire(import.meta.url)("ws") as { WebSocketServer: typeof WSS };

export type Tunnel = {
  port: number;
  /**
   * Tests and the chaos script: while down, the tunnel refuses new connections
   * and cuts the open ones, exactly as an unreachable Postgres looks to the Worker.
   */
  setDown: (down: boolean) => void;
  close: () => Promise<void>;
};

export async function startTunnel(opts: { target: string | string[]; port: number; host?: string }): Promise<Tunnel> {
  // The servers it may reach (host:port): a stack with several databases has one per database.
  const targets = new Set([opts.target].flat());
  const http: Server = createServer((_, res) => {
    res.writeHead(426).end("WebSocket only\n");
  });
  const addressOf = (url: string | undefined) => new URL(url ?? "", "http://x").searchParams.get("address");
  let down = false;
  const wss = new WebSocketServer({
    server: http,
    path: "/v2",
    // Refuse before the upgrade: a client sees a failed connection, like an outage.
    verifyClient: ({ req }: { req: { url?: string } }) => !down && targets.has(addressOf(req.url) ?? ""),
  });
  wss.on("connection", (ws, req) => {
    const address = addressOf(req.url) ?? "";
    if (!targets.has(address)) return ws.close(1008, "address not allowed");
    const [host, port] = [address.slice(0, address.lastIndexOf(":")), address.slice(address.lastIndexOf(":") + 1)];
    const socket = connect(Number(port), host);
    socket.setNoDelay(true);
    const pending: Buffer[] = [];
    let open = false;
    socket.on("connect", () => {
      open = true;
      for (const chunk of pending) socket.write(chunk);
      pending.length = 0;
    });
    socket.on("data", (data) => ws.send(data));
    socket.on("error", () => ws.close(1011, "upstream error"));
    socket.on("close", () => ws.close());
    ws.on("message", (data: Buffer) => (open ? socket.write(data) : pending.push(data)));
    ws.on("close", () => socket.destroy());
    ws.on("error", () => socket.destroy());
  });
  await new Promise<void>((ok, fail) => {
    http.once("error", fail);
    http.listen(opts.port, opts.host ?? "127.0.0.1", () => ok());
  });
  const address = http.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  return {
    port,
    setDown: (value) => {
      down = value;
      if (down) for (const c of wss.clients) c.terminate();
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        http.close(() => ok());
        http.closeAllConnections();
      }),
  };
}
