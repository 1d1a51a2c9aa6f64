/**
 * The import rules of docs/ARCHITECTURE.md ("Parts"), checked by dependency-cruiser in
 * `test/architecture/import-rules.test.ts` (part of `npm test`), which also plants a forbidden
 * import of each kind in a scratch tree to prove every rule fires. Arrows point inward:
 * services/ ← src/codec ← src/raft/core ← src/raft/engine ← src/raft ← layers/, facades, product.
 *
 * Paths are relative to the repository root. Type-only imports count (`tsPreCompilationDeps`): a
 * circle of types is still a circle a reader has to hold in their head.
 *
 * Run by hand: npx depcruise src services layers --config .dependency-cruiser.cjs
 */

/** Code that runs in browsers as well as Node: no `node:*` (nor a bare `fs`, `path`, …). */
const PLATFORM_NEUTRAL =
  "^(services/|src/(raft|seam|codec|game|internal)/|layers/seam/websocket/(client/|browser/|[^/]+[.]ts$))"

/** @type {import("dependency-cruiser").IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "No import cycles, counting type-only imports.",
      severity: "error",
      from: {},
      to: { circular: true }
    },
    {
      name: "core-imports-only-core",
      comment: "src/raft/core is plain TypeScript: no effect, no services, no codec, nothing outside it.",
      severity: "error",
      from: { path: "^src/raft/core/" },
      to: { pathNot: "^src/raft/core/" }
    },
    {
      name: "services-import-only-services",
      comment: "services/ holds the contracts: it imports nothing of the implementation (only services/ and npm).",
      severity: "error",
      from: { path: "^services/" },
      to: { path: "^(src|layers|test|bench|examples)/" }
    },
    {
      name: "layers-never-import-engine",
      comment: "A storage or transport meets the engine only through services/raft (the fast paths are capabilities there).",
      severity: "error",
      from: { path: "^layers/" },
      to: { path: "^src/raft/(engine|core)/" }
    },
    {
      name: "engine-never-imports-layers",
      comment: "The engine knows storages and transports only through their contracts in services/.",
      severity: "error",
      from: { path: "^src/raft/engine/" },
      to: { path: "^layers/" }
    },
    {
      name: "engine-points-inward",
      comment: "The engine imports the core, the contracts, the codec and src/internal: nothing above it.",
      severity: "error",
      from: { path: "^src/raft/engine/" },
      to: {
        path: "^(src|layers|test|bench|examples)/",
        pathNot: "^src/(raft/(engine|core)|codec|internal)/"
      }
    },
    {
      name: "codec-points-inward",
      comment: "Wire messages depend on the contracts only.",
      severity: "error",
      from: { path: "^src/codec/" },
      to: { path: "^(src|layers|test|bench|examples)/", pathNot: "^src/codec/" }
    },
    {
      name: "seam-combinators-point-inward",
      comment: "src/seam combines any Seam: it depends on services/seam only.",
      severity: "error",
      from: { path: "^src/seam/" },
      to: { path: "^(src|layers|test|bench|examples)/", pathNot: "^src/seam/" }
    },
    {
      name: "platform-neutral-no-node",
      comment: "Platform-neutral code runs in browsers: no node:* built-ins.",
      severity: "error",
      from: { path: PLATFORM_NEUTRAL },
      to: { dependencyTypes: ["core"] }
    }
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "[.]d[.]ts$" }
  }
}
