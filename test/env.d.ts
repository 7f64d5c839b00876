import type { Env as WorkerEnv } from "../workers/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      /** Tests only: the database owner, for reading and tampering as an insider (the Worker's role cannot). */
      TEST_ADMIN_DATABASE_URL: string;
    }
  }
}
