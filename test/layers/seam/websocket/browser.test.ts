/**
 * The WebSocket fabric in headless Chromium: a page joins a room on a Node host (kuilt's client
 * loom + the browser WebSocket layer) and exchanges frames with a Node client; then two pages and
 * a Node process run one Raft cluster through the host.
 *
 * Real time, every wait bounded by what it waits for, and a timeout quotes what it saw last: the
 * pages publish their progress (phase, Raft role, term, commit index, peers), the Node side its
 * node's view.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Exit, Fiber, Runtime, Schedule, Scope, Stream } from "effect"
import { fileURLToPath } from "node:url"
import { ClusterConfig, InMemoryRaftStorage, RaftNode, SeamRaftTransport } from "../../../../src/index.js"
import { PeerId } from "../../../../services/seam/PeerId.js"
import { withChromium } from "../../../support/chromium.js"
import { waitForEffect } from "../../../support/waitFor.js"
import { joinNode, startHost } from "./fixture.js"
import { type LoggedItem, type NodeView, recordRaftLog, showView } from "./pages/raftLog.js"

const page = (name: string) => fileURLToPath(new URL(`./pages/${name}.page.ts`, import.meta.url))

/** Runs a promise-returning browser session as an Effect (bounded by the harness's timeouts). */
const browser = <A>(body: Parameters<typeof withChromium<A>>[0]) => Effect.promise(() => withChromium(body))

/**
 * The exchange page: a loopback WebSocket join and five frames. Under a second on an idle machine;
 * the bound covers the page's bundle being parsed and run while both cores are busy.
 */
const EXCHANGE_MS = 30_000
/**
 * Each Raft page, from its script's start: join, an election among three voters, then all 15
 * commands committed. The pages start one after the other (a page's context, load and parse take
 * seconds on a loaded machine) and a page cannot see all 15 before the later page proposed; about
 * 5 s on an idle 2-core machine.
 */
const PAGES_APPLIED_MS = 60_000
/**
 * The Node node after the pages applied everything: one AppendEntries round from the leader
 * (heartbeats every 50 ms) through the host, plus a stall of a loaded machine.
 */
const NODE_CATCH_UP_MS = 20_000
/** Chromium's launch (60 s bound) and a page load (30 s) in `test/support/chromium.ts`. */
const BROWSER_START_MS = 60_000 + 30_000

describe("WebSocket fabric in Chromium", () => {
  it.scopedLive("a browser page and a Node client exchange frames through a Node host", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const node = yield* joinNode(host.url, { room: "mixed", peerId: "node" })
      const pageId = PeerId("page")
      // Answer the page once both of its frames arrived.
      const served = yield* Effect.fork(Effect.gen(function*() {
        const got = Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(node.seam.incoming, 2)))
        yield* node.seam.sendTo(pageId, new TextEncoder().encode("hello from node"))
        yield* node.seam.sendTo(pageId, new TextEncoder().encode(String(got[0]!.payloadSize)))
        yield* node.seam.sendTo(pageId, Uint8Array.from({ length: 300 }, (_, i) => 255 - (i & 0xff)))
        return got
      }))
      const report = (yield* browser(async (session) => {
        const p = await session.open(page("exchange"), { url: host.url, room: "mixed" })
        return p.result(EXCHANGE_MS)
      })) as {
        selfId: string
        budget: { _tag: string; value: number }
        frames: Array<{ sender: string; text: string; size: number }>
        bytesIntact: boolean
      }
      // The page reported 3 answers, so the Node client had both of the page's frames.
      const got = yield* Fiber.join(served)
      expect(got.map((s) => [s.sender, s.payloadSize])).toEqual([["page", 22], ["page", 300]])
      expect(got[0]!.decodeToString()).toBe("hello from the browser")
      expect(Array.from(got[1]!.payload)).toEqual(Array.from({ length: 300 }, (_, i) => i & 0xff))
      expect(report.selfId).toBe("page")
      expect(report.budget.value).toBe(host.maxPayloadBytes)
      expect(report.frames.slice(0, 2)).toEqual([
        { sender: "node", text: "hello from node", size: 15 },
        { sender: "node", text: "22", size: 2 }
      ])
      expect(report.bytesIntact).toBe(true)
    }), BROWSER_START_MS + EXCHANGE_MS + 10_000)

  it.scopedLive("two browser pages and a Node process run one Raft cluster through the host", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ heartbeatInterval: Duration.seconds(1), reconnectWindow: Duration.seconds(5) })
      const ids = ["node-1", "page-1", "page-2"]
      const count = 5
      const total = ids.length * count
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      const room = yield* joinNode(host.url, { room: "raft", peerId: "node-1" }).pipe(Scope.extend(scope))
      const storage = yield* InMemoryRaftStorage.make()
      const node = yield* RaftNode.make({
        cluster: ClusterConfig.ofVoters(...ids),
        transport: SeamRaftTransport.fromSeam(room.seam),
        storage
      }).pipe(Scope.extend(scope))
      const log = yield* recordRaftLog(node, room.seam).pipe(Scope.extend(scope))
      // As in the pages: `propose` waits while no leader is known, and a `LeadershipLost` (outcome
      // unknown) is retried under the same request id, which the ClientSessionTable applies once.
      const proposals = yield* Effect.fork(Effect.forEach(Array.from({ length: count }, (_, k) => k), (k) =>
        node.propose(new TextEncoder().encode(`node-1-${k}`), { requestId: k + 1 }).pipe(
          Effect.retry({ while: (e) => e._tag === "LeadershipLost", schedule: Schedule.spaced(Duration.millis(50)) }),
          Effect.orDie
        )))
      const runtime = yield* Effect.runtime<never>()
      const reports = (yield* browser(async (session) => {
        const pages = await Promise.all(["page-1", "page-2"].map((id) =>
          session.open(page("raft"), { url: host.url, room: "raft", id, ids, count, total })
        ))
        const results = await Promise.all(pages.map((p) => p.result(PAGES_APPLIED_MS)))
        // Keep the pages open until the Node node has applied everything and its own proposals
        // returned: it may learn the final commit index one heartbeat after the pages did, and
        // from a page that leads.
        await Runtime.runPromise(runtime)(Effect.gen(function*() {
          yield* waitForEffect(log.view, (v) => v.applied >= total, {
            what: `the Node node to apply all ${total} commands (the pages have)`,
            timeoutMs: NODE_CATCH_UP_MS,
            show: showView
          })
          yield* Fiber.join(proposals).pipe(Effect.timeoutFail({
            duration: Duration.millis(NODE_CATCH_UP_MS),
            onTimeout: () => new Error(`the Node node's proposals did not return though all ${total} commands applied`)
          }), Effect.orDie)
        }))
        return results
      })) as Array<{ id: string; items: Array<LoggedItem>; applied: Array<string>; view: NodeView }>
      const logs = [{ id: "node-1", items: log.items, applied: log.applied }, ...reports]
      const expected = ids.flatMap((id) => Array.from({ length: count }, (_, k) => `${id}-${k}`)).sort()
      for (const l of logs) {
        // committedFrom(1) delivers every index once, in order, with no gap.
        expect(l.items.map((i) => i.index), l.id).toEqual(l.items.map((_, k) => k + 1))
        // Every command applied exactly once (retried duplicates are filtered by dedup key).
        expect([...l.applied.slice(0, total)].sort(), l.id).toEqual(expected)
      }
      // The same log on every node, index by index, as far as each got.
      const common = Math.min(...logs.map((l) => l.items.length))
      for (const l of logs.slice(1)) expect(l.items.slice(0, common), l.id).toEqual(log.items.slice(0, common))
      for (const l of logs.slice(1)) expect(l.applied.slice(0, total), l.id).toEqual(log.applied.slice(0, total))
    }), BROWSER_START_MS + PAGES_APPLIED_MS + 2 * NODE_CATCH_UP_MS + 10_000)
})
