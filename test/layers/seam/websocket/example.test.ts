/**
 * `examples/websocket-secure.ts` (quoted by the README) keeps working, over `ws://` and `wss://`:
 * run as a real process (asynchronously, bounded), it commits, refuses a stranger, survives a host
 * restart and every voter applies the same log.
 */
import { describe, expect, it } from "@effect/vitest"
import { Data, Effect } from "effect"
import { execFile } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { selfSignedCertificate } from "./tlsCertificate.js"

const root = resolve(import.meta.dirname, "../../../..")
const tsx = resolve(root, "node_modules", ".bin", "tsx")

class ExampleFailed extends Data.TaggedError("ExampleFailed")<{ readonly output: string }> {}

const runExample = (args: ReadonlyArray<string>) =>
  Effect.async<string, ExampleFailed>((resume) => {
    const child = execFile(tsx, ["examples/websocket-secure.ts", ...args], { cwd: root, encoding: "utf8", timeout: 120_000 }, (error, stdout, stderr) =>
      resume(error ? Effect.fail(new ExampleFailed({ output: `${error.message}\n${stdout}\n${stderr}` })) : Effect.succeed(stdout)))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const expectTheStory = (out: string, scheme: string) => {
  expect(out).toMatch(new RegExp(`host listening at ${scheme}://127\\.0\\.0\\.1:\\d+/kuilt`))
  expect(out).toMatch(/committed "hello" at index \d+/)
  expect(out).toMatch(/a stranger claiming n2 was refused: join refused: AuthRefused \(4401\)/)
  expect(out).toMatch(/committed "after the restart" at index \d+/)
  for (const id of ["n1", "n2", "n3"]) expect(out).toContain(`${id} applied: ["hello","after the restart"]`)
}

describe("examples/websocket-secure.ts", () => {
  it.live("runs over ws:// and over wss:// with a certificate of its own", () =>
    Effect.gen(function*() {
      expectTheStory(yield* runExample([]).pipe(Effect.orDie), "ws")
      const dir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "kuilt-example-tls-")))
      try {
        const { key, cert } = yield* Effect.scoped(selfSignedCertificate).pipe(Effect.orDie)
        yield* Effect.promise(() => Promise.all([writeFile(join(dir, "key.pem"), key), writeFile(join(dir, "cert.pem"), cert)]))
        expectTheStory(yield* runExample(["--key", join(dir, "key.pem"), "--cert", join(dir, "cert.pem")]).pipe(Effect.orDie), "wss")
      } finally {
        yield* Effect.promise(() => rm(dir, { recursive: true, force: true }))
      }
    }), 300_000)
})
