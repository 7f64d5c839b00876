import { createServer } from "node:net";

/** Resolves when `port` on 127.0.0.1 can be bound, rejects with a clear reason otherwise. */
export function assertPortFree(port: number, variable: string): Promise<void> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", (e: NodeJS.ErrnoException) =>
      fail(
        new Error(
          `port ${port} is ${e.code === "EADDRINUSE" ? "already in use" : `unusable (${e.code})`}: set ${variable} to a free port`,
        ),
      ),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => ok()));
  });
}

/** `n` distinct ports the OS says are free right now (all held open together while chosen). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((ok, fail) => {
          const server = createServer();
          server.once("error", fail);
          server.listen(0, "127.0.0.1", () => ok(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    return typeof address === "object" && address ? address.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise<void>((ok) => s.close(() => ok()))));
  return ports;
}

/** A port the OS says is free right now. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port ?? 0;
}
