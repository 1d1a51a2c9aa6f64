/**
 * The published package works for a consumer (README, "Module map"): build, `npm pack`, unpack the
 * tarball into a fresh project, and import every entry point both at run time (node) and at type
 * level (tsc with NodeNext resolution). A broken `exports` map or a file missing from `files`
 * fails here, not for a user. Every step is a child process run asynchronously (the worker stays responsive) under
 * its own bound; a failing step quotes its command and output.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { runProcess } from "./support/proc.js"

const root = resolve(import.meta.dirname, "..")

/**
 * Bounds per step, for what each does on a 2-core machine whose cores are busy with other tests:
 * the build is a full `tsc` emit of the package (about 20 s idle); a type check of the consumer
 * reads every declaration of the package and of Effect (about 10 s idle); the rest (pack, tar, a
 * node script) take a second or two. The whole test took 100–130 s at a load average of 15.
 */
const BUILD_MS = 180_000
const TYPECHECK_MS = 120_000
const SMALL_STEP_MS = 60_000

const run = async (cmd: string, args: Array<string>, cwd: string, timeoutMs = SMALL_STEP_MS) =>
  (await runProcess(cmd, args, { cwd, timeoutMs })).stdout

const ENTRY_POINTS = ["kuilt", "kuilt/node", "kuilt/browser", "kuilt/testing"] as const

describe("the packed package", () => {
  it("installs into a fresh project and every entry point imports and type-checks", async () => {
    const work = mkdtempSync(join(tmpdir(), "kuilt-pack-"))
    try {
      await run("npm", ["run", "build"], root, BUILD_MS)
      await run("npm", ["pack", "--ignore-scripts", "--pack-destination", work], root)
      const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"))
      expect(tarball).toBeDefined()
      const project = join(work, "consumer")
      const pkgDir = join(project, "node_modules", "kuilt")
      mkdirSync(pkgDir, { recursive: true })
      await run("tar", ["-xzf", join(work, tarball!), "-C", pkgDir, "--strip-components=1"], work)
      // Dependencies come from this repository's install (no registry access needed).
      // Every runtime dependency the manifest declares (a missing one here is a missing one for users).
      const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> }
      for (const dep of [...Object.keys(manifest.dependencies), "@types/node"]) {
        const target = join(project, "node_modules", dep)
        mkdirSync(resolve(target, ".."), { recursive: true })
        symlinkSync(join(root, "node_modules", dep), target, "dir")
      }
      writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }))
      const imports = ENTRY_POINTS.map((e, i) => `import * as m${i} from "${e}"`).join("\n")
      const checks = ENTRY_POINTS.map((e, i) => `if (Object.keys(m${i}).length === 0) throw new Error("${e} exports nothing")`)
        .join("\n")
      writeFileSync(join(project, "check.mjs"), `${imports}\n${checks}\nconsole.log("ok")\n`)
      expect((await run("node", ["check.mjs"], project)).trim()).toBe("ok")
      // The packed SQLite storage works for real: its driver runs in a worker thread started
      // from source text, which must find better-sqlite3 from the installed package.
      writeFileSync(
        join(project, "sqlite.mjs"),
        `import { Effect } from "effect"
import { SqlRaftStorage } from "kuilt/node"
const file = ${JSON.stringify(join(work, "node.sqlite"))}
const once = (f) => Effect.runPromise(Effect.scoped(Effect.flatMap(SqlRaftStorage.makeSqlite({ filename: file }), f)))
await once((s) => s.write({ hardState: { term: 3, votedFor: "a" } }))
const state = await once((s) => s.load)
console.log(JSON.stringify(state.hardState))
`
      )
      expect((await run("node", ["sqlite.mjs"], project)).trim()).toBe('{"term":3,"votedFor":"a"}')
      // Type level: the platform-neutral entry points must type-check without Node's types (a
      // browser app has none); `kuilt/node` is checked separately, with them.
      const typeCheck = async (entries: ReadonlyArray<string>, types: ReadonlyArray<string>, name: string) => {
        const file = `${name}.ts`
        writeFileSync(
          join(project, file),
          `${entries.map((e, i) => `import * as m${i} from "${e}"`).join("\n")}\nexport const all = [${entries.map((_, i) => `m${i}`).join(", ")}]\n`
        )
        writeFileSync(
          join(project, `tsconfig.${name}.json`),
          JSON.stringify({
            compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", lib: ["ES2022", "DOM"], strict: true, noEmit: true, skipLibCheck: false, types },
            files: [file]
          })
        )
        await run(join(root, "node_modules", ".bin", "tsc"), ["-p", `tsconfig.${name}.json`], project, TYPECHECK_MS)
      }
      await typeCheck(["kuilt", "kuilt/browser", "kuilt/testing"], [], "neutral")
      await typeCheck(["kuilt/node"], ["node"], "node")
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
  }, BUILD_MS + 2 * TYPECHECK_MS + 5 * SMALL_STEP_MS)
})
