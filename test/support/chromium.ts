/**
 * Runs TypeScript in headless Chromium for the browser tests (IndexedDB storage, the browser
 * WebSocket client). The system's Chromium is driven by `playwright-core`; nothing is downloaded.
 *
 * An entry file is bundled with esbuild for the browser, served from a loopback HTTP server, and
 * opened in a fresh page. The page reports by setting `globalThis.__kuiltResult` (any JSON value)
 * or `globalThis.__kuiltError` (a string); `globalThis.__kuiltParams` holds the caller's params.
 * `runSuiteInChromium` bundles a vitest-style suite with `@effect/vitest` replaced by the
 * in-page runner of `browserVitest.ts` and returns one result per test.
 *
 * Chromium's path comes from `KUILT_CHROMIUM` or defaults to Debian's `/usr/bin/chromium`. A
 * missing browser is an error, never a skip: the browser suites are part of the contract.
 */
import { build } from "esbuild"
import { existsSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { type Browser, chromium, type Page } from "playwright-core"
import type { BrowserTestResult } from "./browserVitest.js"

export const chromiumPath = (): string => process.env["KUILT_CHROMIUM"] ?? "/usr/bin/chromium"

/** Flags for a headless run on a machine with a closed network (no background connections). */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage"
]

const shimPath = fileURLToPath(new URL("./browserVitest.ts", import.meta.url))

/** Bundles `entry` (or generated `contents` resolved from `resolveDir`) into one ESM script. */
export const bundleForPage = async (
  source: { readonly entry: string } | { readonly contents: string; readonly resolveDir: string },
  options: { readonly vitestShim?: boolean } = {}
): Promise<string> => {
  const result = await build({
    ...("entry" in source
      ? { entryPoints: [source.entry] }
      : { stdin: { contents: source.contents, resolveDir: source.resolveDir, loader: "ts", sourcefile: "entry.ts" } }),
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    sourcemap: "inline",
    logLevel: "silent",
    // The package declares `sideEffects: false`; a suite file is imported only for its side
    // effects (registering tests), so the bundler must not drop it.
    ignoreAnnotations: true,
    ...(options.vitestShim ? { alias: { "@effect/vitest": shimPath } } : {})
  })
  return result.outputFiles[0]!.text
}

interface Served {
  readonly url: string
  readonly close: () => Promise<void>
}

/** Serves one page and its script on 127.0.0.1 (an ephemeral port). */
const serve = async (script: string, params: unknown): Promise<Served> => {
  const html = `<!doctype html><meta charset="utf-8"><title>kuilt</title>` +
    `<script>globalThis.__kuiltParams = ${JSON.stringify(params ?? null).replace(/</g, "\\u003c")}</script>` +
    `<script type="module" src="/bundle.js"></script>`
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]
    if (path === "/bundle.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" })
      res.end(script)
    } else if (path === "/" || path === "/index.html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
      res.end(html)
    } else {
      res.writeHead(404)
      res.end()
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

export interface OpenedPage {
  readonly page: Page
  /** Console lines and page errors, for failure messages. */
  readonly logs: ReadonlyArray<string>
  /** Waits (bounded) for the page to report; rejects with the page's error or a timeout. */
  readonly result: (timeoutMs: number) => Promise<unknown>
}

export interface ChromiumSession {
  readonly browser: Browser
  /** Opens a new page (own origin, so own IndexedDB) running the bundled `entry` with `params`. */
  readonly open: (entry: string, params?: unknown) => Promise<OpenedPage>
}

const launch = async (): Promise<Browser> => {
  const executablePath = chromiumPath()
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath} (install Debian's chromium or set KUILT_CHROMIUM)`)
  }
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 })
}

const awaitReport = async (page: Page, logs: ReadonlyArray<string>, timeoutMs: number): Promise<unknown> => {
  try {
    await page.waitForFunction(
      () => {
        const g = globalThis as { __kuiltResult?: unknown; __kuiltError?: unknown }
        return g.__kuiltResult !== undefined || g.__kuiltError !== undefined
      },
      null,
      { timeout: timeoutMs, polling: 50 }
    )
  } catch (e) {
    throw new Error(`page did not report within ${timeoutMs} ms: ${String(e)}\n--- page log ---\n${logs.join("\n")}`)
  }
  const report = await page.evaluate(() => {
    const g = globalThis as { __kuiltResult?: unknown; __kuiltError?: unknown }
    return { result: g.__kuiltResult, error: g.__kuiltError }
  })
  if (report.error !== undefined) {
    throw new Error(`page failed: ${String(report.error)}\n--- page log ---\n${logs.join("\n")}`)
  }
  return report.result
}

/** Launches Chromium, runs `body`, then closes every page, server and the browser. */
export const withChromium = async <A>(body: (session: ChromiumSession) => Promise<A>): Promise<A> => {
  const browser = await launch()
  const servers: Array<Served> = []
  const bundles = new Map<string, Promise<string>>()
  try {
    const open = async (entry: string, params?: unknown): Promise<OpenedPage> => {
      let bundled = bundles.get(entry)
      if (bundled === undefined) {
        bundled = bundleForPage({ entry })
        bundles.set(entry, bundled)
      }
      const served = await serve(await bundled, params)
      servers.push(served)
      // A context per page: separate storage, as separate browser profiles would have.
      const context = await browser.newContext()
      const page = await context.newPage()
      const logs: Array<string> = []
      page.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`))
      page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`))
      await page.goto(served.url, { timeout: 30_000 })
      return { page, logs, result: (timeoutMs) => awaitReport(page, logs, timeoutMs) }
    }
    return await body({ browser, open })
  } finally {
    await browser.close().catch(() => undefined)
    await Promise.all(servers.map((s) => s.close()))
  }
}

/** Bundles `entry`, runs it in one page and returns what it reported. */
export const runInChromium = (entry: string, options: { readonly params?: unknown; readonly timeoutMs: number }) =>
  withChromium(async (session) => {
    const page = await session.open(entry, options.params)
    return page.result(options.timeoutMs)
  })

export interface SuiteReport {
  readonly results: ReadonlyArray<BrowserTestResult>
  readonly passed: number
  readonly failed: ReadonlyArray<BrowserTestResult>
  readonly skipped: number
  /** Failures rendered for an assertion message. */
  readonly summary: string
}

/**
 * Runs a vitest-style suite file in Chromium: `entry` registers tests through `@effect/vitest`
 * (describe/it.effect/it.scoped/expect), which is swapped for the in-page runner.
 */
export const runSuiteInChromium = async (entry: string, options: { readonly timeoutMs: number }): Promise<SuiteReport> => {
  const contents = `import ${JSON.stringify(entry)}
import { runRegistered } from ${JSON.stringify(shimPath)}
runRegistered().then(
  (r) => { globalThis.__kuiltResult = r },
  (e) => { globalThis.__kuiltError = String(e && e.stack || e) })`
  const script = await bundleForPage({ contents, resolveDir: process.cwd() }, { vitestShim: true })
  const served = await serve(script, null)
  const browser = await launch()
  try {
    const page = await (await browser.newContext()).newPage()
    const logs: Array<string> = []
    page.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`))
    page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`))
    await page.goto(served.url, { timeout: 30_000 })
    const results = (await awaitReport(page, logs, options.timeoutMs)) as ReadonlyArray<BrowserTestResult>
    const failed = results.filter((r) => !r.ok)
    const skipped = results.filter((r) => r.skipped).length
    return {
      results,
      passed: results.length - failed.length - skipped,
      failed,
      skipped,
      summary: failed.map((f) => `✗ ${f.name}\n${f.error ?? ""}`).join("\n\n")
    }
  } finally {
    await browser.close().catch(() => undefined)
    await served.close()
  }
}
