/**
 * The product as a user runs it: three `kuilt serve` processes (one voter each, SQLite files, the
 * WebSocket mesh), driven only through the `kuilt` command — put, get, watch, status, members,
 * transfer — then the leader's process is SIGKILLed and the same commands, given every endpoint,
 * keep working against the two that remain. The same cluster's HTTP endpoints are then checked as
 * an operator's tools read them: `/metrics` parses as Prometheus text and its counters move with
 * commits; `/health` answers 503 while a node is isolated (the server's fault control) and 200
 * again after healing.
 *
 * Real processes and sockets, real time: every wait is bounded and says what it saw.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { join } from "node:path"
import { startProcess, tail } from "../support/proc.js"
import { waitFor } from "../support/waitFor.js"
import { artifacts, bundleCli, root, type CliRun, kuilt, type Server, showRun, startServers } from "./support.js"

let cli = ""
let dataDir = ""
let servers: ReadonlyArray<Server> = []
const IDS = ["n1", "n2", "n3"]

/** Every endpoint, comma separated: the CLI fails over among them. */
const all = () => servers.map((s) => s.endpoint).join(",")
const live = () => servers.filter((s) => s.process.exit() === undefined)

/** Progress on stderr, so a slow run's log shows where it is. */
const step = (what: string) => process.stderr.write(`[cli.test ${new Date().toISOString().slice(11, 19)}] ${what}\n`)

/** Runs `kuilt args` and expects exit 0. */
const ok = async (args: ReadonlyArray<string>): Promise<CliRun> => {
  step(`kuilt ${args.join(" ")}`)
  const r = await kuilt(cli, args)
  expect(r.code, showRun(args, r)).toBe(0)
  return r
}

interface StatusRow {
  readonly id: string
  readonly role: string | null
  readonly up: boolean
  readonly leader: string | null
  readonly commit: number
  readonly healthy: boolean
}

/** `kuilt status --json` against `endpoints`: the nodes that answered. */
const status = async (endpoints: string): Promise<ReadonlyArray<StatusRow>> => {
  const r = await kuilt(cli, ["status", "--json", "-e", endpoints])
  if (r.code !== 0) return []
  return (JSON.parse(r.stdout) as { nodes: ReadonlyArray<StatusRow> }).nodes
}

/** Waits (via `kuilt status`) until every node in `ids` is up and agrees on one leader among them. */
const awaitLeader = (ids: ReadonlyArray<string>, endpoints: string, timeoutMs = 60_000) =>
  (step(`await a leader among ${ids.join(", ")}`), waitFor)(() => status(endpoints), (rows) => {
    const mine = rows.filter((r) => ids.includes(r.id))
    const leader = mine.find((r) => r.role === "Leader")?.id
    return mine.length === ids.length && leader !== undefined && mine.every((r) => r.leader === leader)
  }, { what: `a leader agreed by ${ids.join(", ")}`, timeoutMs, intervalMs: 200 }).then((rows) => rows.find((r) => r.role === "Leader" && ids.includes(r.id))!.id)

beforeAll(async () => {
  cli = await bundleCli("kuilt-cli-test")
  dataDir = mkdtempSync(join(artifacts, "serve-"))
  servers = await startServers(cli, IDS, dataDir, ["--allow-faults"])
}, 180_000)

afterAll(async () => {
  for (const s of servers) s.process.kill("SIGKILL")
  await Promise.all(servers.map((s) => s.process.exited))
  if (dataDir !== "") rmSync(dataDir, { recursive: true, force: true })
})

describe("kuilt serve × 3, driven by the kuilt command", () => {
  it("put, get, watch, status, members, transfer; then the leader's process dies and the CLI goes on", async () => {
    const first = await awaitLeader(IDS, all())

    // put on one server, get (linearizable) from each of the others.
    const put = await ok(["put", "-e", servers[0]!.endpoint, "greeting", "hello"])
    expect(put.stdout).toMatch(/^OK \(index \d+\)/)
    for (const s of servers.slice(1)) expect((await ok(["get", "-e", s.endpoint, "greeting"])).stdout.trim()).toBe("hello")
    const missing = await kuilt(cli, ["get", "-e", all(), "nothing-here"])
    expect(missing.code, showRun(["get", "nothing-here"], missing)).toBe(7)

    // watch follows changes under a prefix, as they are applied (from index 1: no race with its start).
    const watch = startProcess(process.execPath, [cli, "watch", "--from", "1", "-e", all(), "w/"], { cwd: root })
    try {
      await waitFor(() => watch.lines.concat(watch.stderr().split("\n")), (ls) => ls.some((l) => /watching/i.test(l)), {
        what: "kuilt watch to start",
        timeoutMs: 60_000,
        intervalMs: 100,
        show: () => `stdout ${JSON.stringify(watch.lines)}; stderr ${tail(watch.stderr(), 800)}`,
        abortIf: () => (watch.exit() === undefined ? undefined : `watch exited ${JSON.stringify(watch.exit())}: ${tail(watch.stderr(), 800)}`)
      })
      await ok(["put", "-e", servers[1]!.endpoint, "w/a", "1"])
      await ok(["put", "-e", servers[2]!.endpoint, "w/b", "2"])
      await ok(["put", "-e", servers[2]!.endpoint, "other", "x"])
      const seen = await waitFor(() => watch.lines, (ls) => ls.some((l) => l.includes("w/b")), {
        what: "kuilt watch to print w/b",
        timeoutMs: 30_000,
        intervalMs: 100,
        show: (ls) => `${JSON.stringify(ls)}; stderr ${tail(watch.stderr(), 800)}`
      })
      const changes = seen.filter((l) => l.includes("w/"))
      expect(changes[0]).toMatch(/w\/a/)
      expect(changes[1]).toMatch(/w\/b/)
      expect(seen.some((l) => l.includes("other")), JSON.stringify(seen)).toBe(false)
    } finally {
      watch.kill("SIGKILL")
      await watch.exited
    }

    // status: a table with every node; members: the three voters.
    const table = await ok(["status", "-e", servers[0]!.endpoint])
    for (const id of IDS) expect(table.stdout).toMatch(new RegExp(`^${id}\\s+(Leader|Follower)`, "m"))
    const members = await ok(["members", "-e", all()])
    expect(members.stdout).toMatch(/voters:\s+n1, n2, n3/)

    // members add / remove (a learner that never starts: it does not count for a quorum).
    expect((await ok(["members", "add", "-e", all(), "n4"])).stdout).toMatch(/learners: n4/)
    expect((await ok(["members", "remove", "-e", all(), "n4"])).stdout).toMatch(/learners: -/)

    // transfer to a chosen follower, sent to a server that does not lead (the client follows).
    const target = IDS.find((id) => id !== first)!
    const via = servers.find((s) => s.id !== first && s.id !== target)!
    // The server answers once the target leads (it awaited the new term's leader). Whether it
    // still leads seconds later is up to the machine's load (a starved heartbeat can start an
    // election), so the kill below targets whoever leads then.
    expect((await ok(["transfer", "-e", via.endpoint, target])).stdout.trim()).toBe(`leader: ${target}`)
    const leader = await awaitLeader(IDS, all())

    // Kill the leader's process; the CLI, given every endpoint, keeps working.
    const victim = servers.find((s) => s.id === leader)!
    victim.process.kill("SIGKILL")
    await victim.process.exited
    const rest = IDS.filter((id) => id !== leader)
    const next = await awaitLeader(rest, all())
    expect(next).not.toBe(leader)
    const after = await ok(["put", "-e", all(), "after", "failover"])
    expect(after.stdout).toMatch(/^OK/)
    for (const s of live()) expect((await ok(["get", "-e", s.endpoint, "after"])).stdout.trim()).toBe("failover")
    expect((await ok(["get", "-e", all(), "greeting"])).stdout.trim()).toBe("hello")
    const downTable = await ok(["status", "-e", all()])
    expect(downTable.stdout).toMatch(new RegExp(`^${leader}\\s+unreachable`, "m"))
    expect((await ok(["members", "-e", all()])).stdout).toMatch(new RegExp(`leader:\\s+${next}`))
  }, 600_000)

  it("/metrics is Prometheus text whose values move with commits; /health is 503 while isolated, 200 after healing", async () => {
    const up = live()
    const ids = up.map((s) => s.id)
    await awaitLeader(ids, up.map((s) => s.endpoint).join(","))
    const s = up[0]!
    const base = `http://${s.endpoint}`

    const metrics = async () => {
      const r = await fetch(`${base}/metrics`)
      expect(r.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/)
      return parsePrometheus(await r.text())
    }
    const before = await metrics()
    const commit0 = sample(before, "kuilt_raft_commit_index", { node: s.id })
    expect(commit0, "kuilt_raft_commit_index").toBeGreaterThan(0)
    expect(sample(before, "kuilt_raft_term", { node: s.id })).toBeGreaterThan(0)
    for (let i = 0; i < 3; i++) await ok(["put", "-e", s.endpoint, `m/${i}`, "v"])
    const moved = await waitFor(metrics, (m) => sample(m, "kuilt_raft_applied_index", { node: s.id })! >= commit0! + 3, {
      what: "kuilt_raft_applied_index to move by the three commits",
      timeoutMs: 20_000,
      intervalMs: 200,
      show: (m) => JSON.stringify([...m.entries()].filter(([k]) => k.startsWith("kuilt_raft_") && k.includes(s.id)).slice(0, 20))
    })
    expect(sample(moved, "kuilt_raft_commit_index", { node: s.id })).toBeGreaterThanOrEqual(commit0! + 3)
    expect(sum(moved, "kuilt_raft_frames_total", { node: s.id })).toBeGreaterThan(sum(before, "kuilt_raft_frames_total", { node: s.id }))

    const health = async () => (await fetch(`${base}/health`)).status
    expect(await health()).toBe(200)
    const isolate = await fetch(`${base}/api/nodes/${s.id}/isolate`, { method: "POST" })
    expect(isolate.status, await isolate.text()).toBe(200)
    // Cut off, the node loses its leader within an election timeout (a leader steps down by CheckQuorum).
    await waitFor(health, (code) => code === 503, { what: `/health of isolated ${s.id} to answer 503`, timeoutMs: 30_000, intervalMs: 200 })
    const heal = await fetch(`${base}/api/nodes/${s.id}/heal`, { method: "POST" })
    expect(heal.status, await heal.text()).toBe(200)
    await waitFor(health, (code) => code === 200, { what: `/health of healed ${s.id} to answer 200`, timeoutMs: 30_000, intervalMs: 200 })
  }, 300_000)
})

type Samples = Map<string, number>

/**
 * Parses the Prometheus text exposition format strictly enough to catch a broken line: every
 * non-comment line is `name{labels} value`, every family has `# TYPE` before its samples.
 */
const parsePrometheus = (text: string): Samples => {
  const out: Samples = new Map()
  const typed = new Set<string>()
  for (const line of text.split("\n")) {
    if (line === "") continue
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ")
      expect(["counter", "gauge", "histogram", "summary", "untyped"], line).toContain(type)
      typed.add(name!)
      continue
    }
    if (line.startsWith("#")) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/.exec(line)
    expect(m, `not a Prometheus sample line: ${line}`).not.toBeNull()
    const name = m![1]!
    const family = name.replace(/_(bucket|sum|count)$/, "")
    expect(typed.has(name) || typed.has(family), `sample before its # TYPE: ${line}`).toBe(true)
    out.set(`${name}${m![2] ?? ""}`, Number(m![3]))
  }
  return out
}

const labelsMatch = (key: string, labels: Record<string, string>) =>
  Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`))

/** The value of the one sample of `name` with `labels`. */
const sample = (m: Samples, name: string, labels: Record<string, string>): number | undefined => {
  for (const [k, v] of m) if ((k === name || k.startsWith(`${name}{`)) && labelsMatch(k, labels)) return v
  return undefined
}

/** The sum of every sample of `name` with `labels`. */
const sum = (m: Samples, name: string, labels: Record<string, string>): number => {
  let total = 0
  for (const [k, v] of m) if (k.startsWith(`${name}{`) && labelsMatch(k, labels)) total += v
  return total
}
