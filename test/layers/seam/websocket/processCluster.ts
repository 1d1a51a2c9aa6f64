/**
 * Helpers of the process-level tests: voters as child processes (`procs/voter.ts`), their
 * acknowledgements, and the check that no acknowledged write was lost.
 */
import { expect } from "@effect/vitest"
import { ask, type Child, startChild } from "./childProcess.js"

export interface Ack {
  readonly command: string
  readonly index: number
  /** When this process read the line (ms). */
  readonly at: number
}

/** Starts a proposing voter and registers it in `children` (for cleanup). */
export const startVoter = (
  children: Array<Child>,
  options: { readonly url: string; readonly id: string; readonly ids: ReadonlyArray<string>; readonly secret: string; readonly dir: string; readonly tag: string }
): Child => {
  const child = startChild(`${options.id}-${options.tag}`, "voter", {
    url: options.url,
    room: "raft",
    id: options.id,
    ids: options.ids,
    secret: options.secret,
    dir: options.dir,
    propose: true
  })
  children.push(child)
  return child
}

/** The `ack <command> <index>` lines of a voter. */
export const acksOf = (c: Child): ReadonlyArray<Ack> =>
  c.lines.filter((l) => l.text.startsWith("ack ")).map((l) => {
    const [, command, index] = l.text.split(" ")
    return { command: command!, index: Number(index), at: l.at }
  })

/**
 * Every acknowledged write is in every live voter's applied log at its acknowledged index, and the
 * logs agree wherever they overlap. Waits (bounded) until each voter has applied past the highest
 * acknowledged index.
 */
export const expectNoAckLost = async (voters: ReadonlyArray<Child>, acks: ReadonlyArray<Ack>): Promise<void> => {
  expect(acks.length).toBeGreaterThan(0)
  const top = Math.max(...acks.map((a) => a.index))
  const logs: Array<Map<number, string>> = []
  for (const v of voters) {
    const deadline = Date.now() + 20_000
    for (;;) {
      const applied = JSON.parse(await ask(v, "dump", "applied")) as ReadonlyArray<[number, string]>
      if (applied.length > 0 && applied[applied.length - 1]![0] >= top) {
        logs.push(new Map(applied))
        break
      }
      if (Date.now() > deadline) throw new Error(`${v.name} applied only up to ${applied.at(-1)?.[0]} of ${top}\n${v.tail()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  for (const a of acks) {
    for (const [i, log] of logs.entries()) {
      expect(log.get(a.index), `${voters[i]!.name}: acknowledged ${a.command} at ${a.index}`).toBe(a.command)
    }
  }
  for (let index = 1; index <= top; index++) {
    const values = new Set(logs.map((l) => l.get(index)))
    expect(values.size, `the logs disagree at ${index}: ${[...values].join(", ")}`).toBe(1)
  }
}
