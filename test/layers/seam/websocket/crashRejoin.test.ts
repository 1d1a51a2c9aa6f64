/**
 * Crash rejoin with real processes over loopback: a host and three voters, each its own OS process
 * (voters on SQLite files, joined with the shared secret's tokens, written as the README's pattern).
 * A SIGKILLed voter restarted at once takes its own slot back without waiting for the host's
 * reconnect window, and the cluster keeps committing. While a voter is dead, a stranger cannot take
 * its id: without its token, with another peer's token or with a token of another secret. No
 * acknowledged write is lost: every voter's log holds each one at its acknowledged index.
 */
import { NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { WebSocketLoom } from "../../../../layers/seam/websocket/client/WebSocketLoom.js"
import { PeerToken } from "../../../../layers/seam/websocket/PeerToken.js"
import { RejectCode } from "../../../../layers/seam/websocket/RejectCode.js"
import { ask, type Child, startChild, stopAll } from "./childProcess.js"
import { acksOf, expectNoAckLost, startVoter } from "./processCluster.js"

const SECRET = "crash-rejoin test secret, 32 bytes"
const IDS = ["n1", "n2", "n3"]
/**
 * The host's reconnect window: long, so that a restart lands inside it however slowly the child
 * starts (before identity-bound takeover, it was refused with PeerIdInUse for all of it).
 */
const WINDOW_MS = 120_000
/** The default reconnect window, which a restarted voter used to wait out. */
const DEFAULT_WINDOW_MS = 10_000
/** Starting a child (tsx compiles it) takes seconds, tens of them on a loaded 2-core machine. */
const STARTUP_MS = 90_000

/** A stranger's join attempt from this process; resolves with the refusal code (or "admitted"). */
const strangerJoin = (url: string, peerId: string, credentials: string | undefined) =>
  Effect.runPromise(Effect.scoped(
    WebSocketLoom.join({ url, room: "raft", peerId, displayName: "stranger", connectTimeout: Duration.seconds(5), ...(credentials === undefined ? {} : { credentials }) }).pipe(
      Effect.as("admitted" as const),
      Effect.catchAll((e) => Effect.succeed(e._tag === "JoinRefused" ? e.code : e._tag)),
      Effect.provide(NodeSocket.layerWebSocketConstructor)
    )
  ))

/** A token for `peerId` in room "raft", minted with `secret`. */
const mint = (secret: string, peerId: string) =>
  Effect.runPromise(Effect.flatMap(PeerToken.secret(secret), (key) => PeerToken.mint(key, { room: "raft", peerId, ttl: "1 hour" })))

describe("crash rejoin (real processes)", () => {
  it("a SIGKILLed voter restarted at once takes its slot back without waiting for the reconnect window, and nobody else can take a dead voter's id", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kuilt-rejoin-"))
    const children: Array<Child> = []
    try {
      const host = startChild("host", "host", { port: 0, secret: SECRET, reconnectWindowMs: WINDOW_MS })
      children.push(host)
      const port = Number((await host.waitForLine((t) => t.startsWith("listening "), STARTUP_MS, "the host to listen")).text.split(" ")[1])
      const url = `ws://127.0.0.1:${port}/kuilt`
      const voters = new Map<string, Child>()
      const start = (id: string, tag: string) => {
        const v = startVoter(children, { url, id, ids: IDS, secret: SECRET, dir, tag })
        voters.set(id, v)
        return v
      }
      for (const id of IDS) start(id, "first")
      for (const v of voters.values()) await v.waitForLine((t) => t.startsWith("joined "), STARTUP_MS, "the voter to join")
      const allAcks = () => children.flatMap((c) => acksOf(c))
      const waitForAcks = async (n: number, what: string, ms = 30_000) => {
        const deadline = Date.now() + ms
        while (allAcks().length < n) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${allAcks().length}/${n} acks)\n${children.map((c) => c.tail()).join("\n")}`)
          await new Promise((r) => setTimeout(r, 10))
        }
      }
      await waitForAcks(20, "the cluster to commit")

      // 1. SIGKILL a voter and restart it at once on the same file.
      const victim = voters.get("n3")!
      const killedAt = Date.now()
      victim.kill("SIGKILL")
      await victim.exited
      const restarted = start("n3", "restarted")
      const joining = await restarted.waitForLine((t) => t.startsWith("joining "), STARTUP_MS, "the restarted voter to start")
      const joined = await restarted.waitForLine((t) => t.startsWith("joined "), 30_000, "the restarted voter to join")
      const [, joinedAt, attempts] = joined.text.split(" ")
      const joinMs = Number(joinedAt) - Number(joining.text.split(" ")[1])
      const backMs = Number(joinedAt) - killedAt
      console.log(
        `crash rejoin: the restarted voter was admitted ${joinMs} ms after it asked (attempts: ${attempts}); ` +
          `${backMs} ms after the SIGKILL including its process start-up; it used to wait out the window (${DEFAULT_WINDOW_MS} ms by default)`
      )
      // Generous bounds only: before identity-bound takeover it was refused (PeerIdInUse, which the
      // voter does not retry) until the window ended.
      expect(attempts, `attempts\n${restarted.tail()}`).toBe("1")
      expect(joinMs, `admitted ${joinMs} ms after asking\n${restarted.tail()}\n${host.tail()}`).toBeLessThan(DEFAULT_WINDOW_MS)
      const ackedBefore = allAcks().length
      await restarted.waitForLine((t) => t.startsWith("ack "), 30_000, "the restarted voter's first committed proposal")
      await waitForAcks(ackedBefore + 20, "commits after the restart")
      console.log(`crash rejoin: the restarted voter's first proposal committed ${
        restarted.lines.find((l) => l.text.startsWith("ack "))!.at - killedAt
      } ms after the kill`)

      // 2. A dead voter's id cannot be taken by a stranger.
      const dead = voters.get("n2")!
      dead.kill("SIGKILL")
      await dead.exited
      const intruderToken = await mint(SECRET, "intruder")
      const foreignToken = await mint("a different secret, 32 bytes long", "n2")
      expect(await strangerJoin(url, "n2", undefined)).toBe(RejectCode.AuthRefused)
      expect(await strangerJoin(url, "n2", intruderToken)).toBe(RejectCode.AuthRefused)
      expect(await strangerJoin(url, "n2", foreignToken)).toBe(RejectCode.AuthRefused)
      // The legitimate voter, restarted, takes its slot back and the cluster keeps committing.
      const back = start("n2", "restarted")
      await back.waitForLine((t) => t.startsWith("joined "), STARTUP_MS, "n2 to rejoin")
      await back.waitForLine((t) => t.startsWith("ack "), 30_000, "n2's first committed proposal after its restart")
      const stats = JSON.parse(await ask(host, "stats", "stats")) as {
        counters: { rejected: Record<string, number>; takeovers: number }
      }
      expect(stats.counters.rejected["AuthRefused"]).toBe(3)
      // Both restarts took their slot back inside the window (n3, then n2).
      expect(stats.counters.takeovers).toBe(2)

      // 3. No acknowledged write lost.
      await expectNoAckLost([...voters.values()], allAcks())
    } finally {
      await stopAll(children)
      rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)
})
