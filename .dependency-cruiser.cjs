/**
 * The dependency rule (`npm run lint`). Layers, innermost first; each may use
 * only those before it:
 *
 *   tlog/   the transparency-log library: nothing of ours
 *   kit/    small generic parts (breaker, rate limit, group commit, …): nothing of ours
 *   core/   the receipt domain: kit, tlog
 *   api/    HTTP contract pieces: core, kit
 *   db/     Postgres access: core, kit, tlog
 *   durable-objects/   the shard: core, kit, tlog, db (never api or workers)
 *   workers/           the Worker: everything above; a feature folder uses
 *                      workers/shared and workers/*.ts, never another feature;
 *                      only workers/index.ts (the composition root) meets them all
 *   witness/           the witness Worker, deployable alone: tlog and kit only
 *   scripts/, test/    tools and tests: anything; the product never imports them
 */
const PRODUCT = "^(tlog|kit|core|api|db|durable-objects|workers|clients|witness)/";
const notTests = "\\.test\\.tsx?$";

module.exports = {
  forbidden: [
    { name: "no-cycles", severity: "error", from: {}, to: { circular: true } },
    {
      name: "witness-stands-alone",
      comment:
        "witness/ is a Worker anyone deploys on its own: it uses the tlog library and kit, nothing of the gateway",
      severity: "error",
      from: { path: "^witness/" },
      to: { path: "^(core|api|db|durable-objects|workers|scripts|test|clients)/" },
    },
    {
      name: "tlog-stands-alone",
      comment: "tlog/ is a library: it imports nothing of ours",
      severity: "error",
      from: { path: "^tlog/" },
      to: { path: "^(kit|core|api|db|durable-objects|workers|scripts|test|clients)/" },
    },
    {
      name: "kit-stands-alone",
      severity: "error",
      from: { path: "^kit/" },
      to: { path: "^(tlog|core|api|db|durable-objects|workers|scripts|test|clients)/" },
    },
    {
      name: "core-is-the-domain",
      comment: "core/ returns domain results, never HTTP, and does no I/O of its own",
      severity: "error",
      from: { path: "^core/", pathNot: notTests },
      to: { path: "^(api|db|durable-objects|workers|scripts|test|clients)/" },
    },
    {
      name: "api-is-the-contract",
      severity: "error",
      from: { path: "^api/" },
      to: { path: "^(db|durable-objects|workers|scripts|test|clients)/" },
    },
    {
      name: "db-below-the-runtime",
      severity: "error",
      from: { path: "^db/" },
      to: { path: "^(api|durable-objects|workers|scripts|test|clients)/" },
    },
    {
      name: "shard-speaks-domain",
      comment: "the shard answers in domain terms; workers/ renders them",
      severity: "error",
      from: { path: "^durable-objects/", pathNot: notTests },
      to: { path: "^(api|workers|scripts|test|clients)/" },
    },
    {
      name: "workers-use-shard-types-only",
      comment: "the Worker talks to the shard over RPC: its types, not its code (the root exports the class)",
      severity: "error",
      from: { path: "^workers/", pathNot: "^workers/index\\.ts$" },
      to: { path: "^durable-objects/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "features-meet-only-at-the-root",
      severity: "error",
      from: { path: "^workers/([^/]+)/" },
      to: { path: "^workers/[^/]+/", pathNot: ["^workers/$1/", "^workers/shared/"] },
    },
    {
      name: "shared-serves-features",
      severity: "error",
      from: { path: "^workers/shared/" },
      to: { path: "^workers/[^/]+/", pathNot: "^workers/shared/" },
    },
    {
      name: "product-without-tools",
      comment: "scripts/ and test/ may use the product; never the other way",
      severity: "error",
      from: { path: PRODUCT, pathNot: notTests },
      to: { path: "^(scripts|test)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|\\.wrangler|\\.data|public/vendor)" },
    // swc, not tsc: dependency-cruiser cannot drive TypeScript 7.0's compiler. swc keeps
    // type-only imports (so they obey the layers too) and tags them "type-only".
    parser: "swc",
    tsPreCompilationDeps: false,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".tsx", ".js", ".mjs", ".json"] },
  },
};
