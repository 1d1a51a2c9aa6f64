/**
 * The WebSocket fabric in headless Chromium: a page joins a room on a Node host (kuilt's client
 * loom + the browser WebSocket layer) and exchanges frames with a Node client; then two pages and
 * a Node process run one Raft cluster through the host.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Exit, Ref, Runtime, Schedule, Scope, Stream } from "effect"
import { fileURLToPath } from "node:url"
import { ClusterConfig, InMemoryRaftStorage, RaftNode, SeamRaftTransport } from "../../../../src/index.js"
import { PeerId } from "../../../../services/seam/PeerId.js"
import { withChromium } from "../../../support/chromium.js"
import { eventually, joinNode, startHost } from "./fixture.js"

const page = (name: string) => fileURLToPath(new URL(`./pages/${name}.page.ts`, import.meta.url))

/** Runs a promise-returning browser session as an Effect (bounded by the harness's timeouts). */
const browser = <A>(body: Parameters<typeof withChromium<A>>[0]) => Effect.promise(() => withChromium(body))

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
        return p.result(25_000)
      })) as {
        selfId: string
        budget: { _tag: string; value: number }
        frames: Array<{ sender: string; text: string; size: number }>
        bytesIntact: boolean
      }
      const got = yield* served.pipe(Effect.timeout(Duration.seconds(5)), Effect.orDie)
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
    }), 60_000)

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
      const applied = yield* Ref.make<ReadonlyArray<string>>([])
      const text = new TextDecoder()
      yield* Effect.forkIn(
        Stream.runForEach(node.committedFrom(1), (c) =>
          c._tag === "Entry" ? Ref.update(applied, (xs) => [...xs, text.decode(c.entry.command)]) : Effect.void),
        scope
      )
      const proposals = yield* Effect.fork(Effect.forEach(Array.from({ length: count }, (_, k) => k), (k) =>
        node.propose(new TextEncoder().encode(`node-1-${k}`)).pipe(
          Effect.retry(Schedule.intersect(Schedule.recurs(200), Schedule.spaced(Duration.millis(50)))),
          Effect.orDie
        )))
      const runtime = yield* Effect.runtime<never>()
      const reports = (yield* browser(async (session) => {
        const pages = await Promise.all(["page-1", "page-2"].map((id) =>
          session.open(page("raft"), { url: host.url, room: "raft", id, ids, count, total })
        ))
        const results = await Promise.all(pages.map((p) => p.result(40_000)))
        // Keep the pages open until the Node node has applied everything too: it may learn the
        // final commit index one heartbeat after the pages did, and from a page that leads.
        await Runtime.runPromise(runtime)(
          eventually("the Node node applied every command", Effect.map(Ref.get(applied), (xs) => xs.length >= total), 20_000)
        )
        return results
      })) as Array<{ id: string; applied: Array<string> }>
      yield* proposals.pipe(Effect.timeout(Duration.seconds(10)), Effect.orDie)
      const mine = yield* Ref.get(applied)
      expect(new Set(mine).size).toBe(total)
      for (const r of reports) expect(r.applied.slice(0, total)).toEqual(mine.slice(0, total))
      expect(mine.filter((c) => c.startsWith("page-1")).length).toBe(count)
    }), 90_000)
})
