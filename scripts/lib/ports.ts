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

/** A port the OS says is free right now. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}
