/**
 * `wss://` from Chromium: a page joins a room on a host with a certificate generated for the test
 * and exchanges frames with a Node client. Chromium is told to trust exactly that certificate's
 * public key (`--ignore-certificate-errors-spki-list`), so the TLS handshake is real.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Stream } from "effect"
import { createHash, createPublicKey } from "node:crypto"
import { existsSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"
import { WebSocketLoom } from "../../../../layers/seam/websocket/client/WebSocketLoom.js"
import { layerWebSocketConstructorTls } from "./trustingConstructor.js"
import { PeerId } from "../../../../services/seam/PeerId.js"
import { bundleForPage, chromiumPath } from "../../../support/chromium.js"
import { startHost } from "./fixture.js"
import { selfSignedCertificate } from "./tlsCertificate.js"

const page = fileURLToPath(new URL("./pages/tlsExchange.page.ts", import.meta.url))

/** base64(SHA-256(SubjectPublicKeyInfo)) of the certificate's key: what the Chromium flag takes. */
const spkiHash = (key: string) =>
  createHash("sha256").update(createPublicKey(key).export({ type: "spki", format: "der" })).digest("base64")

/** Runs the page in a fresh headless Chromium that trusts `spki`; resolves with its report. */
const runPage = (params: { url: string }, spki: string): Promise<unknown> =>
  (async () => {
    const executablePath = chromiumPath()
    if (!existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath}`)
    const script = await bundleForPage({ entry: page })
    const browser = await chromium.launch({
      executablePath,
      headless: true,
      timeout: 30_000,
      args: [
        // The flags of test/support/chromium.ts for a closed network, plus the trusted key.
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        `--ignore-certificate-errors-spki-list=${spki}`
      ]
    })
    const logs: Array<string> = []
    let server: Server | undefined
    try {
      const p = await (await browser.newContext()).newPage()
      p.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`))
      p.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`))
      // Page and bundle come from a loopback server, as in test/support/chromium.ts: Chromium lets
      // only pages of loopback origins reach loopback hosts.
      const html = `<!doctype html><meta charset="utf-8"><title>kuilt tls</title>` +
        `<script>globalThis.__kuiltParams = ${JSON.stringify(params)}</script><script type="module" src="/bundle.js"></script>`
      server = createServer((req, res) => {
        const js = req.url === "/bundle.js"
        res.writeHead(200, { "content-type": js ? "text/javascript" : "text/html" })
        res.end(js ? script : html)
      })
      const listening = server
      await new Promise<void>((resolve, reject) => {
        listening.once("error", reject)
        listening.listen(0, "127.0.0.1", () => resolve())
      })
      const origin = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`
      await p.goto(`${origin}/`, { timeout: 30_000 })
      try {
        await p.waitForFunction(() => {
          const g = globalThis as { __kuiltResult?: unknown; __kuiltError?: unknown }
          return g.__kuiltResult !== undefined || g.__kuiltError !== undefined
        }, null, { timeout: 30_000, polling: 50 })
      } catch (e) {
        throw new Error(`the page did not report within 30 s: ${String(e)}\n--- page log ---\n${logs.join("\n")}`)
      }
      const report = await p.evaluate(() => {
        const g = globalThis as { __kuiltResult?: unknown; __kuiltError?: unknown }
        return { result: g.__kuiltResult, error: g.__kuiltError }
      })
      if (report.error !== undefined) throw new Error(`the page failed: ${String(report.error)}\n--- page log ---\n${logs.join("\n")}`)
      return report.result
    } finally {
      await browser.close().catch(() => undefined)
      if (server !== undefined) {
        const s = server
        s.closeAllConnections()
        await new Promise<void>((resolve) => s.close(() => resolve()))
      }
    }
  })()

describe("WebSocket fabric over TLS in Chromium", () => {
  it.scopedLive("a Chromium page and a Node client exchange frames through a wss host", () =>
    Effect.gen(function*() {
      const { key, cert } = yield* selfSignedCertificate.pipe(Effect.orDie)
      // A loaded machine can take a while between a page's socket opening and its hello.
      const host = yield* startHost({ tls: { key, cert }, handshakeTimeout: Duration.seconds(10) })
      const node = yield* WebSocketLoom.join({ url: host.url, room: "tls", peerId: "node", displayName: "node" }).pipe(
        Effect.provide(layerWebSocketConstructorTls({ ca: cert }))
      )
      const served = yield* Effect.fork(Effect.gen(function*() {
        const got = Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(node.seam.incoming, 1)))
        yield* node.seam.sendTo(PeerId("page"), new TextEncoder().encode(`node got: ${got[0]!.decodeToString()}`))
        return got[0]!.sender
      }))
      const report = (yield* Effect.promise(() => runPage({ url: host.url }, spkiHash(key)))) as {
        selfId: string
        answer: string
        budget: { value: number }
      }
      expect(yield* served.pipe(Effect.timeout(Duration.seconds(5)), Effect.orDie)).toBe("page")
      expect(report).toMatchObject({ selfId: "page", answer: "node got: hello over wss", budget: { value: host.maxPayloadBytes } })
    }), 90_000)
})
