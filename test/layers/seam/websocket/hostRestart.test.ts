/**
 * Host restart survival with real processes over loopback: a host and three voters, each its own OS
 * process, the voters written as the README's pattern (no reconnect code of their own). The host is
 * SIGKILLed and restarted on the same port with no memory of its rooms: every client's resume is
 * refused, each rejoins with its identity under the same seam, and the cluster commits again. No
 * acknowledged write is lost.
 */
import { describe, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Child, startChild, stopAll } from "./childProcess.js"
import { acksOf, expectNoAckLost, startVoter } from "./processCluster.js"

const SECRET = "host-restart test secret, 32 bytes"
const IDS = ["n1", "n2", "n3"]
/** Starting a child (tsx compiles it) takes seconds, tens of them on a loaded 2-core machine. */
const STARTUP_MS = 90_000

describe("host restart (real processes)", () => {
  it("after the host is SIGKILLed and restarted on the same port, the cluster commits again with no acknowledged write lost", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kuilt-host-restart-"))
    const children: Array<Child> = []
    try {
      const first = startChild("host", "host", { port: 0, secret: SECRET })
      children.push(first)
      const port = Number((await first.waitForLine((t) => t.startsWith("listening "), STARTUP_MS, "the host to listen")).text.split(" ")[1])
      const url = `ws://127.0.0.1:${port}/kuilt`
      const voters = IDS.map((id) => startVoter(children, { url, id, ids: IDS, secret: SECRET, dir, tag: "voter" }))
      for (const v of voters) await v.waitForLine((t) => t.startsWith("joined "), STARTUP_MS, "the voter to join")
      const allAcks = () => voters.flatMap((v) => acksOf(v))
      const waitUntil = async (what: string, ok: () => boolean, ms: number) => {
        const deadline = Date.now() + ms
        while (!ok()) {
          if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${children.map((c) => c.tail()).join("\n")}`)
          await new Promise((r) => setTimeout(r, 5))
        }
      }
      await waitUntil("20 commits", () => allAcks().length >= 20, 60_000)

      first.kill("SIGKILL")
      await first.exited
      const topBefore = Math.max(...allAcks().map((a) => a.index))
      const second = startChild("host-restarted", "host", { port, secret: SECRET })
      children.push(second)
      const back = await second.waitForLine((t) => t.startsWith("listening "), STARTUP_MS, "the restarted host to listen")
      await waitUntil("a commit after the restart", () => allAcks().some((a) => a.index > topBefore), 30_000)
      const firstAfter = allAcks().filter((a) => a.index > topBefore).sort((a, b) => a.at - b.at)[0]!
      console.log(`host restart: the cluster committed again ${firstAfter.at - back.at} ms after the restarted host listened (bar: 3000 ms)`)
      // Every voter commits its own proposals again (each one rejoined).
      for (const v of voters) {
        await waitUntil(`${v.name} to commit after the restart`, () => acksOf(v).some((a) => a.index > topBefore), 30_000)
      }
      await expectNoAckLost(voters, allAcks())
    } finally {
      await stopAll(children)
      rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)
})
