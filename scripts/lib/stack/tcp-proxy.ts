/**
 * A TCP proxy in front of the local stack (or of Postgres), for outage tests:
 * `down` refuses new connections and cuts open ones; `blackhole` accepts
 * connections and never answers (a lost route, a dead host behind a firewall);
 * `dropReplies` forwards requests but cuts each connection before its answer
 * arrives (the sale is made, the reply is lost). `accepted` counts the
 * connections that came in, refused or not.
 */
import { createConnection, createServer, type Socket } from "node:net";

export type ProxyMode = "up" | "down" | "blackhole" | "dropReplies";

export type TcpProxy = {
  url: string;
  port: number;
  mode: (m: ProxyMode) => void;
  accepted: () => number;
  close: () => Promise<void>;
};

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = "up";
  let accepted = 0;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    accepted++;
    if (mode === "down") return client.destroy();
    if (mode === "blackhole") {
      open.add(client);
      client.on("close", () => open.delete(client)).on("error", () => open.delete(client));
      return;
    }
    const upstream = createConnection(target);
    open.add(client);
    open.add(upstream);
    client.pipe(upstream);
    // Decided per answer, so kept-alive connections follow a change of mode too.
    upstream.on("data", (chunk: Buffer) => {
      if (mode === "dropReplies") client.destroy();
      else client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    accepted: () => accepted,
    mode: (m) => {
      mode = m;
      if (m === "down") for (const s of open) s.destroy();
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const s of open) s.destroy();
        server.close(() => ok());
      }),
  };
}
