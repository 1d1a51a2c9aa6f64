/**
 * IndexedDbRaftStorage is a browser storage, so its suites run inside headless Chromium (the
 * page runs the tests, this file checks what it reported): the shared conformance suite with
 * reopen, the integrity suite (corruption, atomicity, single writer, typed failures) and a
 * durable 3-node cluster. One page runs all three; each test below checks its own suite.
 */
import { describe, expect, it } from "@effect/vitest"
import { fileURLToPath } from "node:url"
import { runSuiteInChromium, type SuiteReport } from "../../../../support/chromium.js"

const entry = fileURLToPath(new URL("./indexeddb-all.browser.ts", import.meta.url))

/**
 * The page runs 59 tests one after the other, most of them a few IndexedDB transactions, one a
 * Raft cluster on the real clock: about 20 s on a 2-core machine under moderate load, 45 s seen
 * with a load average of 12.
 * The bound is for the whole page; when it runs out, the message names the test that was running.
 */
const SUITES_MS = 240_000
/** Chromium's launch and the page load (the bounds in `test/support/chromium.ts`), plus slack. */
const TEST_MS = SUITES_MS + 60_000 + 30_000 + 10_000

let report: Promise<SuiteReport> | undefined
/** The page's report, produced once for the whole file. */
const suites = () => (report ??= runSuiteInChromium(entry, { timeoutMs: SUITES_MS }))

/** The results of the suite whose describe name starts with `prefix`. */
const suite = async (prefix: string) => {
  const results = (await suites()).results.filter((r) => r.name.startsWith(prefix))
  const failed = results.filter((r) => !r.ok)
  return {
    passed: results.filter((r) => r.ok && !r.skipped).length,
    skipped: results.filter((r) => r.skipped).length,
    failures: failed.map((f) => `✗ ${f.name}\n${f.error ?? ""}`).join("\n\n")
  }
}

describe("IndexedDbRaftStorage in headless Chromium", () => {
  it("passes all 43 cases of the RaftStorage conformance suite, reopen included", async () => {
    const s = await suite("RaftStorage conformance: IndexedDbRaftStorage >")
    expect(s.failures).toBe("")
    expect(s.skipped).toBe(0)
    expect(s.passed).toBe(43)
  }, TEST_MS)

  it("detects damage, rolls back aborted and interrupted batches, and refuses foreign databases", async () => {
    const s = await suite("IndexedDbRaftStorage integrity >")
    expect(s.failures).toBe("")
    expect(s.passed).toBe(15)
  }, TEST_MS)

  it("carries a 3-node RaftNode cluster through a restart of every node with its log intact", async () => {
    const s = await suite("IndexedDbRaftStorage under a Raft cluster >")
    expect(s.failures).toBe("")
    expect(s.passed).toBe(1)
  }, TEST_MS)
})
