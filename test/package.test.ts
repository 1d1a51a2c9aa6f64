/**
 * The published package works for a consumer (README, "Module map"): build, `npm pack`, unpack the
 * tarball into a fresh project, and import every entry point both at run time (node) and at type
 * level (tsc with NodeNext resolution). A broken `exports` map or a file missing from `files`
 * fails here, not for a user.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const root = resolve(import.meta.dirname, "..")
const run = (cmd: string, args: Array<string>, cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 240_000 })

const ENTRY_POINTS = ["kuilt", "kuilt/node", "kuilt/browser", "kuilt/testing"] as const

describe("the packed package", () => {
  it("installs into a fresh project and every entry point imports and type-checks", () => {
    const work = mkdtempSync(join(tmpdir(), "kuilt-pack-"))
    try {
      run("npm", ["run", "build"], root)
      run("npm", ["pack", "--ignore-scripts", "--pack-destination", work], root)
      const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"))
      expect(tarball).toBeDefined()
      const project = join(work, "consumer")
      const pkgDir = join(project, "node_modules", "kuilt")
      mkdirSync(pkgDir, { recursive: true })
      run("tar", ["-xzf", join(work, tarball!), "-C", pkgDir, "--strip-components=1"], work)
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
      expect(run("node", ["check.mjs"], project).trim()).toBe("ok")
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
      expect(run("node", ["sqlite.mjs"], project).trim()).toBe('{"term":3,"votedFor":"a"}')
      // Type level: the platform-neutral entry points must type-check without Node's types (a
      // browser app has none); `kuilt/node` is checked separately, with them.
      const typeCheck = (entries: ReadonlyArray<string>, types: ReadonlyArray<string>, name: string) => {
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
        run(join(root, "node_modules", ".bin", "tsc"), ["-p", `tsconfig.${name}.json`], project)
      }
      typeCheck(["kuilt", "kuilt/browser", "kuilt/testing"], [], "neutral")
      typeCheck(["kuilt/node"], ["node"], "node")
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
  }, 300_000)
})
