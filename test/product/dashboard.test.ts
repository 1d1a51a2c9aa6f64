/**
 * The dashboard of `npm start`'s cluster in Chromium: `kuilt up` (the command `npm start` runs,
 * here from the bundled CLI rather than through tsx) starts three `kuilt serve` processes; the
 * page opened on the first server shows a leader within 5 s; a put made with the page's form
 * appears in every node's log tail; the page's Kill button on the leader's card SIGKILLs that
 * process and the page shows a new leader. Screenshots of each step are saved under
 * `test-artifacts/product/` (gitignored) for a person to look at.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { join } from "node:path"
import { chromium, type Browser, type Page } from "playwright-core"
import { chromiumPath } from "../support/chromium.js"
import { type StartedProcess, startProcess, tail } from "../support/proc.js"
import { waitFor } from "../support/waitFor.js"
import { artifacts, bundleCli, freePorts, root } from "./support.js"

let up: StartedProcess | undefined
let browser: Browser | undefined
let dataDir = ""
let endpoints: ReadonlyArray<string> = []

interface NodeView {
  readonly id: string
  readonly role: string
  readonly tail: ReadonlyArray<string>
}

/** What the page shows: the leader in the header and each node card's role and log tail. */
const view = (page: Page) =>
  page.evaluate(() => ({
    leader: document.getElementById("leader")?.textContent ?? "",
    nodes: Array.from(document.querySelectorAll("[data-node]")).map((el) => ({
      id: el.getAttribute("data-node") ?? "",
      role: el.getAttribute("data-role") ?? "",
      tail: Array.from(el.querySelectorAll(".tail li")).map((li) => li.textContent ?? "")
    }))
  })).catch((e: unknown) => ({ leader: `(page unreadable: ${String(e)})`, nodes: [] as Array<NodeView> }))

const upState = () => `up stdout: ${JSON.stringify(up?.lines.slice(-12))}; stderr: ${tail(up?.stderr() ?? "", 1500)}`

beforeAll(async () => {
  const cli = await bundleCli("kuilt-dashboard-test")
  dataDir = mkdtempSync(join(artifacts, "up-"))
  const [port] = await scanPorts()
  up = startProcess(process.execPath, [cli, "up", "--port", String(port), "--data-dir", dataDir], { cwd: root })
  endpoints = [0, 1, 2].map((i) => `127.0.0.1:${port! + i}`)
  // Three node processes loading and electing: seconds when idle, more on a loaded machine.
  await waitFor(async () => {
    try {
      const r = await fetch(`http://${endpoints[0]}/api/events`.replace("/api/events", "/api/status"))
      return (await r.json()) as { nodes: ReadonlyArray<{ leader: string | null }> }
    } catch {
      return undefined
    }
  }, (s) => s !== undefined && s.nodes.some((n) => n.leader !== null), {
    what: "the first server to know a leader",
    timeoutMs: 120_000,
    intervalMs: 250,
    show: upState,
    abortIf: () => (up?.exit() === undefined ? undefined : `kuilt up exited: ${JSON.stringify(up?.exit())}`)
  })
  browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: ["--no-sandbox", "--disable-gpu"], timeout: 60_000 })
}, 240_000)

afterAll(async () => {
  await browser?.close().catch(() => undefined)
  up?.kill("SIGKILL")
  if (up !== undefined) await up.exited
  if (dataDir !== "") rmSync(dataDir, { recursive: true, force: true })
})

/** Three consecutive free ports (the servers of `kuilt up` take port, port+1, port+2). */
const scanPorts = async (): Promise<ReadonlyArray<number>> => {
  for (let attempt = 0; attempt < 20; attempt++) {
    const [p] = await freePorts(1)
    const next = await Promise.all([p! + 1, p! + 2].map((q) => canListen(q)))
    if (next.every(Boolean) && p! + 2 < 65536) return [p!]
  }
  throw new Error("no three consecutive free ports found")
}

const canListen = (port: number) =>
  new Promise<boolean>((done) => {
    import("node:net").then(({ createServer }) => {
      const s = createServer()
      s.once("error", () => done(false))
      s.listen(port, "127.0.0.1", () => s.close(() => done(true)))
    })
  })

describe("the dashboard of npm start's cluster (kuilt up), in Chromium", () => {
  it("shows a leader within 5 s, a put from the page reaches every log tail, killing the leader shows a new one", async () => {
    const page = await (await browser!.newContext({ viewport: { width: 1366, height: 860 } })).newPage()
    const logs: Array<string> = []
    page.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`))
    page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`))
    const showPage = (v: unknown) => `${JSON.stringify(v)}; page log: ${logs.slice(-10).join(" | ")}; ${upState()}`

    await page.goto(`http://${endpoints[0]}/`, { waitUntil: "commit", timeout: 30_000 })
    // The bar of the issue: a leader shown within 5 s of opening the page.
    const first = await waitFor(() => view(page), (v) => /^n\d$/.test(v.leader) && v.nodes.length === 3, {
      what: "the page to show a leader and three nodes",
      timeoutMs: 5_000,
      intervalMs: 100,
      show: showPage
    })
    await page.screenshot({ path: join(artifacts, "dashboard-1-leader.png"), fullPage: true })

    await page.fill("#put-key", "colour")
    await page.fill("#put-value", "teal")
    await page.click("#put-btn")
    const put = await waitFor(() => view(page), (v) => v.nodes.length === 3 && v.nodes.every((n) => n.tail.some((l) => l.includes("colour") && l.includes("teal"))), {
      what: "put colour=teal in every node's log tail",
      timeoutMs: 20_000,
      intervalMs: 100,
      show: showPage
    })
    expect(put.nodes.map((n) => n.id).sort()).toEqual(["n1", "n2", "n3"])
    await page.screenshot({ path: join(artifacts, "dashboard-2-put.png"), fullPage: true })

    const leader = first.leader
    await page.click(`[data-node="${leader}"] button[data-act="kill"]`)
    // A new leader after an election timeout (and, if the page's own server was the leader, after
    // the page moved to another server).
    const after = await waitFor(() => view(page), (v) => /^n\d$/.test(v.leader) && v.leader !== leader && v.nodes.some((n) => n.id === leader && n.role === "Down"), {
      what: `the page to show a leader other than the killed ${leader}, and ${leader} down`,
      timeoutMs: 30_000,
      intervalMs: 100,
      show: showPage
    })
    expect(after.leader).not.toBe(leader)
    await page.screenshot({ path: join(artifacts, "dashboard-3-new-leader.png"), fullPage: true })
  }, 120_000)
})
