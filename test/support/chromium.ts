/**
 * Runs TypeScript in headless Chromium for the browser tests (IndexedDB storage, the browser
 * WebSocket client). The system's Chromium is driven by `playwright-core`; nothing is downloaded.
 *
 * An entry file is bundled with esbuild for the browser, served from a loopback HTTP server, and
 * opened in a fresh page. The page reports by setting `globalThis.__kuiltResult` (any JSON value)
 * or `globalThis.__kuiltError` (a string), and may publish `globalThis.__kuiltProgress` (any JSON
 * value: where it is now), which a timeout quotes; `globalThis.__kuiltParams` holds the caller's
 * params. Every wait is bounded and says what it saw when it gives up.
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
import { waitFor } from "./waitFor.js"

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
  /**
   * Waits (bounded) for the page to report; rejects with the page's error, or after `timeoutMs`
   * with the page's last published progress and its log.
   */
  readonly result: (timeoutMs: number) => Promise<unknown>
}

export interface ChromiumSession {
  readonly browser: Browser
  /** Opens a new page (own origin, so own IndexedDB) running the bundled `entry` with `params`. */
  readonly open: (entry: string, params?: unknown) => Promise<OpenedPage>
}

/**
 * Chromium's own start (process, browser target, DevTools pipe): about a second on an idle
 * 2-core machine, several times that when the cores are busy; the bound only catches a browser
 * that cannot start at all.
 */
const LAUNCH_TIMEOUT_MS = 60_000
/**
 * Loading the page up to the first response (`commit`): a loopback HTTP request. The bundle's
 * download, parse and run count against the caller's bound on the report, which quotes the page's
 * progress when it runs out.
 */
const GOTO_TIMEOUT_MS = 30_000

const launch = async (): Promise<Browser> => {
  const executablePath = chromiumPath()
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath} (install Debian's chromium or set KUILT_CHROMIUM)`)
  }
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: LAUNCH_TIMEOUT_MS })
}

interface PageSlots {
  readonly result: unknown
  readonly error: unknown
  readonly progress: unknown
}

/** Reads the page's report slots; a page that crashed or closed reads as an error. */
const readSlots = (page: Page): Promise<PageSlots> =>
  page.evaluate(() => {
    const g = globalThis as { __kuiltResult?: unknown; __kuiltError?: unknown; __kuiltProgress?: unknown }
    return { result: g.__kuiltResult, error: g.__kuiltError, progress: g.__kuiltProgress }
  }).catch((e: unknown) => ({ result: undefined, error: `the page could not be read: ${String(e)}`, progress: undefined }))

const showLogs = (logs: ReadonlyArray<string>) => `\n--- page log (${logs.length} lines) ---\n${logs.slice(-60).join("\n")}`

/**
 * Waits until the page sets its result or its error. The page polls nothing itself; this side
 * reads its slots every 100 ms, and on timeout quotes the page's last progress and its log.
 */
const awaitReport = async (page: Page, logs: ReadonlyArray<string>, timeoutMs: number): Promise<unknown> => {
  let slots: PageSlots
  try {
    slots = await waitFor(() => readSlots(page), (s) => s.result !== undefined || s.error !== undefined, {
      what: `the page at ${page.url()} to report`,
      timeoutMs,
      intervalMs: 100,
      show: (s) => `progress ${JSON.stringify(s.progress) ?? "(none published)"}`
    })
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}${showLogs(logs)}`)
  }
  if (slots.error !== undefined) {
    throw new Error(`page failed: ${String(slots.error)}\nlast progress: ${JSON.stringify(slots.progress)}${showLogs(logs)}`)
  }
  return slots.result
}

/** Bundles are the same for every page of a worker: made once per entry file. */
const bundles = new Map<string, Promise<string>>()
const bundleOnce = (entry: string): Promise<string> => {
  let bundled = bundles.get(entry)
  if (bundled === undefined) {
    bundled = bundleForPage({ entry })
    bundles.set(entry, bundled)
    bundled.catch(() => bundles.delete(entry))
  }
  return bundled
}

/** Opens `url` in a fresh context (own storage, as a separate browser profile would have). */
const openPage = async (browser: Browser, url: string) => {
  const context = await browser.newContext()
  const page = await context.newPage()
  const logs: Array<string> = []
  page.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`))
  page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`))
  page.on("crash", () => logs.push("[crash] the page crashed"))
  await page.goto(url, { timeout: GOTO_TIMEOUT_MS, waitUntil: "commit" })
  return { page, logs }
}

/** Launches Chromium, runs `body`, then closes every page, server and the browser. */
export const withChromium = async <A>(body: (session: ChromiumSession) => Promise<A>): Promise<A> => {
  const browser = await launch()
  const servers: Array<Served> = []
  try {
    const open = async (entry: string, params?: unknown): Promise<OpenedPage> => {
      const served = await serve(await bundleOnce(entry), params)
      servers.push(served)
      const { page, logs } = await openPage(browser, served.url)
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
    const { page, logs } = await openPage(browser, served.url)
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
