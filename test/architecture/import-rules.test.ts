/**
 * The import rules hold (docs/ARCHITECTURE.md, "Parts"): no import cycle (type-only imports
 * included), arrows point inward, `layers/` and the engine never import each other, the core
 * imports only itself, and platform-neutral code imports no `node:*`. The rules live in
 * `.dependency-cruiser.cjs`; the second test plants one forbidden import of each kind in a scratch
 * tree and expects exactly those to be reported, so a rule that stops firing fails here too.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { checkImports, repoRoot, repoRules } from "./importRules.js"

describe("import rules", () => {
  it("the repository's services/, src/ and layers/ break none of them", async () => {
    const report = await checkImports(repoRoot, ["services", "src", "layers"], await repoRules(), join(repoRoot, "tsconfig.json"))
    expect(report.unresolved).toEqual([])
    expect(report.modules).toBeGreaterThan(150)
    expect(report.violations).toEqual([])
  }, 120_000)

  it("a forbidden import of each kind, planted in a scratch tree, is reported (and allowed ones are not)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kuilt-import-rules-"))
    try {
      const files: Record<string, string> = {
        "tsconfig.json": JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true } }),
        // allowed arrows
        "services/raft/Contract.ts": `export interface Contract { readonly n: number }\n`,
        "src/raft/core/Ok.ts": `export const ok = 1\n`,
        "src/raft/engine/Ok.ts":
          `import { ok } from "../core/Ok.js"\nimport type { Contract } from "../../../services/raft/Contract.js"\nexport const c: Contract = { n: ok }\n`,
        "src/raft/RaftNode.ts": `import { c } from "./engine/Ok.js"\nexport const node = c\n`,
        "layers/raft/storage/Store.ts": `import type { Contract } from "../../../services/raft/Contract.js"\nexport type Store = Contract\n`,
        "layers/seam/websocket/node/Host.ts": `import { createServer } from "node:net"\nexport const host = createServer\n`,
        "src/codec/Frame.ts": `import type { Contract } from "../../services/raft/Contract.js"\nexport type Frame = Contract\n`,
        // planted: a circle of type-only imports in the core
        "src/raft/core/A.ts": `import type { B } from "./B.js"\nexport interface A { readonly b?: B }\n`,
        "src/raft/core/B.ts": `import type { A } from "./A.js"\nexport interface B { readonly a?: A }\n`,
        // planted: the core reaching a contract
        "src/raft/core/UsesContract.ts": `import type { Contract } from "../../../services/raft/Contract.js"\nexport type X = Contract\n`,
        // planted: a contract reaching an implementation
        "services/raft/Leaky.ts": `import { node } from "../../src/raft/RaftNode.js"\nexport const leaky = node\n`,
        // planted: a layer reaching into the engine
        "layers/raft/transport/Fast.ts": `import { c } from "../../../src/raft/engine/Ok.js"\nexport const fast = c\n`,
        // planted: the engine reaching a layer (two rules: never-layers, and inward)
        "src/raft/engine/UsesStore.ts": `import type { Store } from "../../../layers/raft/storage/Store.js"\nexport type S = Store\n`,
        // planted: the engine reaching outward to the RaftNode level
        "src/raft/engine/Up.ts": `import { node } from "../RaftNode.js"\nexport const up = node\n`,
        // planted: the codec reaching the core
        "src/codec/Bad.ts": `import { ok } from "../raft/core/Ok.js"\nexport const bad = ok\n`,
        // planted: a seam combinator reaching the codec
        "src/seam/Mux.ts": `import type { Frame } from "../codec/Frame.js"\nexport type M = Frame\n`,
        // planted: node built-ins in platform-neutral code
        "src/game/Save.ts": `import { readFile } from "node:fs/promises"\nexport const save = readFile\n`,
        "layers/seam/websocket/client/Dial.ts": `import { connect } from "node:net"\nexport const dial = connect\n`
      }
      for (const [path, text] of Object.entries(files)) {
        await mkdir(dirname(join(dir, path)), { recursive: true })
        await writeFile(join(dir, path), text)
      }
      const report = await checkImports(dir, ["services", "src", "layers"], await repoRules(), join(dir, "tsconfig.json"))
      expect(report.unresolved).toEqual([])
      expect(report.violations).toEqual([
        "codec-points-inward: src/codec/Bad.ts -> src/raft/core/Ok.ts",
        "core-imports-only-core: src/raft/core/UsesContract.ts -> services/raft/Contract.ts",
        "engine-never-imports-layers: src/raft/engine/UsesStore.ts -> layers/raft/storage/Store.ts",
        "engine-points-inward: src/raft/engine/Up.ts -> src/raft/RaftNode.ts",
        "engine-points-inward: src/raft/engine/UsesStore.ts -> layers/raft/storage/Store.ts",
        "layers-never-import-engine: layers/raft/transport/Fast.ts -> src/raft/engine/Ok.ts",
        // one report per circle (dependency-cruiser names the built-ins without `node:`)
        "no-circular: src/raft/core/A.ts -> src/raft/core/B.ts",
        "platform-neutral-no-node: layers/seam/websocket/client/Dial.ts -> net",
        "platform-neutral-no-node: src/game/Save.ts -> fs/promises",
        "seam-combinators-point-inward: src/seam/Mux.ts -> src/codec/Frame.ts",
        "services-import-only-services: services/raft/Leaky.ts -> src/raft/RaftNode.ts"
      ].sort())
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
