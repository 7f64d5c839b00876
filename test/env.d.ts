declare namespace Cloudflare {
  interface Env extends import("../workers/env.ts").Env {}
}
