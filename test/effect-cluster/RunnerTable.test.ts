/**
 * The runner table's rules (src/effect-cluster/RunnerTable.ts), as @effect/cluster's SQL runner
 * storage has them, on the table's own clock: locks, heartbeats, machine ids, ticks, snapshots.
 */
import { describe, expect, it } from "@effect/vitest"
import { decodeCommand, encodeCommand } from "../../src/effect-cluster/RunnerCommand.js"
import type { RunnerCommand } from "../../src/effect-cluster/RunnerCommand.js"
import { RunnerTable } from "../../src/effect-cluster/RunnerTable.js"

const EXP = 3000

/** A table fed `commands` at indices 1, 2, ... */
const tableOf = (...commands: ReadonlyArray<RunnerCommand>) => {
  const table = new RunnerTable()
  commands.forEach((c, i) => table.apply(i + 1, c))
  return table
}
let at = 100
const apply = (table: RunnerTable, command: RunnerCommand) => table.apply(++at, command)
/** Advances the table's clock with one accepted tick. */
const tick = (table: RunnerTable, elapsedMs: number) => {
  expect(apply(table, { _tag: "Tick", elapsedMs, after: table.lastTickIndex })).toBe(true)
}

const register = (address: string): RunnerCommand => ({ _tag: "Register", address, runner: `runner@${address}`, healthy: true, expirationMs: EXP })
const acquire = (address: string, ...shardIds: Array<string>): RunnerCommand => ({ _tag: "Acquire", address, shardIds, expirationMs: EXP })

describe("RunnerTable", () => {
  it("gives each runner its own machine id and keeps it when the runner registers again", () => {
    const table = tableOf(register("a:1"), register("b:1"), register("a:1"))
    expect(table.machineId("a:1")).toBe(1)
    expect(table.machineId("b:1")).toBe(2)
    apply(table, { _tag: "Unregister", address: "a:1", expirationMs: EXP })
    apply(table, register("a:1"))
    expect(table.machineId("a:1")).toBe(3)
  })

  it("a free or expired lock is taken, a live lock of another runner is not", () => {
    const table = tableOf(acquire("a:1", "default:1", "default:2"))
    expect(table.heldBy("a:1", ["default:1", "default:2"], EXP)).toEqual(["default:1", "default:2"])
    apply(table, acquire("b:1", "default:2", "default:3"))
    expect(table.heldBy("b:1", ["default:2", "default:3"], EXP)).toEqual(["default:3"])
    tick(table, EXP) // exactly the expiration: still held
    apply(table, acquire("b:1", "default:2"))
    expect(table.lock("default:2")?.address).toBe("a:1")
    tick(table, 1) // past it: free for the taking
    apply(table, acquire("b:1", "default:2"))
    expect(table.heldBy("b:1", ["default:2"], EXP)).toEqual(["default:2"])
    // a:1 is answered what it still holds: default:1 has expired for it too, though no one took it.
    expect(table.heldBy("a:1", ["default:1", "default:2"], EXP)).toEqual([])
    expect(table.namedFor("a:1", ["default:1", "default:2"])).toEqual(["default:1"])
  })

  it("a refresh renews the runner's own locks and heartbeat, and nobody else's", () => {
    const table = tableOf(register("a:1"), register("b:1"), acquire("a:1", "default:1"), acquire("b:1", "default:2"))
    tick(table, EXP - 100)
    apply(table, { _tag: "Refresh", address: "a:1", shardIds: ["default:1", "default:2"] })
    tick(table, 200)
    expect(table.heldBy("a:1", ["default:1"], EXP)).toEqual(["default:1"])
    expect(table.heldBy("b:1", ["default:2"], EXP)).toEqual([])
    expect(table.liveRunners(EXP)).toEqual([["runner@a:1", true]])
  })

  it("release and releaseAll free only the named runner's locks", () => {
    const table = tableOf(acquire("a:1", "default:1", "default:2"), acquire("b:1", "default:3"))
    apply(table, { _tag: "Release", address: "b:1", shardId: "default:1" })
    expect(table.lock("default:1")?.address).toBe("a:1")
    apply(table, { _tag: "Release", address: "a:1", shardId: "default:1" })
    expect(table.lock("default:1")).toBeUndefined()
    apply(table, { _tag: "ReleaseAll", address: "a:1" })
    expect([table.lock("default:2"), table.lock("default:3")?.address]).toEqual([undefined, "b:1"])
  })

  it("unregister removes the runner and every runner whose heartbeat expired", () => {
    const table = tableOf(register("a:1"), register("b:1"))
    tick(table, EXP + 1)
    apply(table, register("c:1"))
    apply(table, { _tag: "SetHealth", address: "c:1", healthy: false })
    expect(table.liveRunners(EXP)).toEqual([["runner@c:1", false]])
    apply(table, { _tag: "Unregister", address: "a:1", expirationMs: EXP })
    expect([table.machineId("a:1"), table.machineId("b:1"), table.machineId("c:1")]).toEqual([undefined, undefined, 3])
  })

  it("a tick counts only when measured from the latest accepted tick, so a deposed leader's late tick adds nothing", () => {
    const table = new RunnerTable()
    expect(table.apply(5, { _tag: "Tick", elapsedMs: 400, after: 0 })).toBe(true)
    // Two ticks measured from index 5: the first committed counts, the second (stale) does not.
    expect(table.apply(9, { _tag: "Tick", elapsedMs: 500, after: 5 })).toBe(true)
    expect(table.apply(10, { _tag: "Tick", elapsedMs: 450, after: 5 })).toBe(false)
    expect([table.clock, table.lastTickIndex]).toEqual([900, 9])
    expect(table.apply(12, { _tag: "Tick", elapsedMs: 100, after: 9 })).toBe(true)
    expect(table.clock).toBe(1000)
  })

  it("a snapshot restores the same table, in the same order", () => {
    const table = tableOf(register("b:1"), register("a:1"), acquire("a:1", "default:2", "default:1"))
    tick(table, 250)
    apply(table, { _tag: "SetHealth", address: "b:1", healthy: false })
    const restored = RunnerTable.fromSnapshot(table.toSnapshot())!
    expect(restored.toSnapshot()).toEqual(table.toSnapshot())
    expect([restored.clock, restored.lastTickIndex, restored.machineId("a:1")]).toEqual([250, table.lastTickIndex, 2])
    expect(restored.liveRunners(EXP)).toEqual([["runner@b:1", false], ["runner@a:1", true]])
    apply(restored, register("c:1"))
    expect(restored.machineId("c:1")).toBe(3)
    expect(RunnerTable.fromSnapshot(new TextEncoder().encode("{\"clock\":\"x\"}"))).toBeUndefined()
  })

  it("commands round-trip through their encoding; foreign bytes decode to nothing", () => {
    const commands: ReadonlyArray<RunnerCommand> = [
      register("a:1"),
      acquire("a:1", "default:1"),
      { _tag: "Tick", elapsedMs: 12, after: 3 },
      { _tag: "ReleaseAll", address: "a:1" }
    ]
    for (const c of commands) expect(decodeCommand(encodeCommand(c))).toEqual(c)
    expect(decodeCommand(new TextEncoder().encode("hello"))).toBeUndefined()
    expect(decodeCommand(new TextEncoder().encode("{\"_tag\":\"Tick\",\"elapsedMs\":-1,\"after\":0}"))).toBeUndefined()
  })
})
