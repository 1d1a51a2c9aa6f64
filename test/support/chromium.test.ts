/**
 * The browser harness must be trustworthy before other suites rely on it: a suite run in Chromium
 * reports each test's real outcome (a failing test is reported failed, not lost), and a page's
 * result and error both reach Node.
 */
import { describe, expect, it } from "@effect/vitest"
import { fileURLToPath } from "node:url"
import { runSuiteInChromium, withChromium } from "./chromium.js"
import { waitFor } from "./waitFor.js"

const echo = fileURLToPath(new URL("./fixtures/echo.browser.ts", import.meta.url))
const selftest = fileURLToPath(new URL("./fixtures/selftest.browser.ts", import.meta.url))
const silent = fileURLToPath(new URL("./fixtures/silent.browser.ts", import.meta.url))

/**
 * A page whose script only reads its params (the echo fixture) or runs six tiny tests (the
 * self-test): milliseconds in the page; the bound is for the page's load and the bundle's parse
 * when both cores are busy.
 */
const PAGE_MS = 30_000
/** Chromium's launch and the page loads (the bounds in `chromium.ts`), plus slack. */
const START_MS = 60_000 + 30_000 + 10_000

describe("Chromium harness", () => {
  it("runs a vitest-style suite in a page and reports every test's outcome", async () => {
    const report = await runSuiteInChromium(selftest, { timeoutMs: PAGE_MS })
    const byName = new Map(report.results.map((r) => [r.name.replace("runner self-test > ", ""), r]))
    expect(report.results.length).toBe(6)
    expect(byName.get("it.effect runs on a TestClock that starts at 0")?.ok).toBe(true)
    expect(byName.get("it.scoped closes its scope after the body")?.ok).toBe(true)
    expect(byName.get("a plain test sees the finalizer of the previous scoped test")?.ok).toBe(true)
    expect(byName.get("IndexedDB and WebSocket exist in the page")?.ok).toBe(true)
    expect(byName.get("a failing expectation is reported as a failure")?.ok).toBe(false)
    expect(byName.get("a failing expectation is reported as a failure")?.error).toContain("to equal")
    expect(byName.get("a failing effect is reported as a failure")?.ok).toBe(false)
    expect(byName.get("a failing effect is reported as a failure")?.error).toContain("boom")
    expect(report.passed).toBe(4)
  }, START_MS + PAGE_MS)

  it("opens several pages with their own params and surfaces a page's error", async () => {
    await withChromium(async (session) => {
      const a = await session.open(echo, { value: "a" })
      const b = await session.open(echo, { value: [1, "<script>"] })
      const bad = await session.open(echo, { fail: "page says no" })
      const ra = (await a.result(PAGE_MS)) as { echoed: unknown; origin: string }
      const rb = (await b.result(PAGE_MS)) as { echoed: unknown; origin: string }
      expect(ra.echoed).toBe("a")
      expect(rb.echoed).toEqual([1, "<script>"])
      expect(ra.origin).not.toBe(rb.origin)
      await expect(bad.result(PAGE_MS)).rejects.toThrow("page says no")
    })
  }, START_MS + 2 * 30_000 + 3 * PAGE_MS)

  it("a page that does not report in time fails with its last progress", async () => {
    await withChromium(async (session) => {
      const stuck = await session.open(silent)
      // Once its script ran (the progress is there), a short bound runs out deterministically.
      await waitFor(() => stuck.page.evaluate(() => (globalThis as { __kuiltProgress?: unknown }).__kuiltProgress), (p) => p !== undefined, {
        what: "the silent page to publish its progress",
        timeoutMs: PAGE_MS
      })
      await expect(stuck.result(300)).rejects.toThrow(/waiting for the page at .* to report; last observed: progress \{"phase":"stuck on purpose"\}/)
    })
  }, START_MS + 2 * PAGE_MS)
})
