/**
 * Raft paper Figure 2, "AppendEntries RPC — Receiver implementation", rules 1–5, each driven with
 * exact frames injected into a node that hears nobody else.
 */
import { describe, expect, it } from "@effect/vitest"
import { append, cmd, detached, lastSent, logTerms, noop, text } from "./helpers.js"

const setup = () => detached(["f", "a", "x"])

describe("AppendEntries receiver (Figure 2)", () => {
  it("rule 1: a frame from a stale term is rejected with the receiver's current term, and changes nothing", () => {
    const c = setup()
    c.inject("f", "a", append({ term: 3, entries: [noop(1, 1), cmd(2, 3)] }))
    const f = c.node("f")
    expect(f.term).toBe(3)
    c.inject("f", "x", append({ term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: [cmd(2, 2, "stale")], leaderCommit: 2 }))
    const r = lastSent(c, "f", "x", "AppendEntriesResponse")
    expect(r.success).toBe(false)
    expect(r.term).toBe(3)
    expect(logTerms(f)).toEqual([1, 3])
    expect(f.leader).toBe("a")
    expect(f.term).toBe(3)
    expect(f.commitIndex).toBe(0)
  })

  it("rule 2: a log with no entry at prevLogIndex is rejected, hinting last + 1", () => {
    const c = setup()
    c.inject("f", "a", append({ term: 2, entries: [noop(1, 1), cmd(2, 1), cmd(3, 2)] }))
    c.inject("f", "a", append({ term: 2, prevLogIndex: 5, prevLogTerm: 2, entries: [cmd(6, 2)] }))
    const r = lastSent(c, "f", "a", "AppendEntriesResponse")
    expect(r).toMatchObject({ success: false, rejectedIndex: 5, conflictIndex: 4, conflictTerm: 0 })
    expect(logTerms(c.node("f"))).toEqual([1, 1, 2])
  })

  it("rule 2: an entry at prevLogIndex with another term is rejected, hinting the first index of that term; nothing is truncated", () => {
    const c = setup()
    c.inject("f", "a", append({ term: 2, entries: [noop(1, 1), cmd(2, 2), cmd(3, 2)] }))
    c.inject("f", "a", append({ term: 3, prevLogIndex: 3, prevLogTerm: 3, entries: [cmd(4, 3)] }))
    const r = lastSent(c, "f", "a", "AppendEntriesResponse")
    expect(r).toMatchObject({ success: false, rejectedIndex: 3, conflictIndex: 2, conflictTerm: 2 })
    expect(logTerms(c.node("f"))).toEqual([1, 2, 2])
    expect(c.disks.get("f" as never)!.entries.map((e) => e.term)).toEqual([1, 2, 2])
  })

  it("rule 3: an existing entry that conflicts with a new one is deleted with all that follow it, on disk too", () => {
    const c = setup()
    c.inject("f", "a", append({ term: 2, entries: [noop(1, 1), cmd(2, 1), cmd(3, 2), cmd(4, 2)] }))
    c.inject("f", "a", append({ term: 3, prevLogIndex: 2, prevLogTerm: 1, entries: [cmd(3, 3, "new")] }))
    const f = c.node("f")
    expect(logTerms(f)).toEqual([1, 1, 3])
    const disk = c.disks.get("f" as never)!.entries
    expect(disk.map((e) => e.term)).toEqual([1, 1, 3])
    const third = disk[2]!
    expect(third._tag === "Command" && text(third.command)).toBe("new")
    expect(lastSent(c, "f", "a", "AppendEntriesResponse")).toMatchObject({ success: true, matchIndex: 3 })
  })

  it("rule 4: entries already held are kept; a delayed shorter batch never truncates the log", () => {
    const c = setup()
    c.inject("f", "a", append({ term: 1, entries: [noop(1, 1), cmd(2, 1), cmd(3, 1)] }))
    // A retransmission of the first batch, overtaken by the later one.
    c.inject("f", "a", append({ term: 1, entries: [noop(1, 1)] }))
    expect(logTerms(c.node("f"))).toEqual([1, 1, 1])
    // It acknowledges only what the frame proved, not its whole log.
    expect(lastSent(c, "f", "a", "AppendEntriesResponse")).toMatchObject({ success: true, matchIndex: 1 })
    // An overlapping batch appends only what is new (the disk would throw on a re-append).
    c.inject("f", "a", append({ term: 1, prevLogIndex: 2, prevLogTerm: 1, entries: [cmd(3, 1), cmd(4, 1)] }))
    expect(logTerms(c.node("f"))).toEqual([1, 1, 1, 1])
    expect(c.disks.get("f" as never)!.entries.map((e) => e.index)).toEqual([1, 2, 3, 4])
  })

  it("rule 5: commitIndex becomes min(leaderCommit, index of last new entry) and never moves back", () => {
    const c = setup()
    const f = () => c.node("f")
    c.inject("f", "a", append({ term: 1, entries: [noop(1, 1), cmd(2, 1)], leaderCommit: 5 }))
    expect(f().commitIndex).toBe(2)
    c.inject("f", "a", append({ term: 1, prevLogIndex: 2, prevLogTerm: 1, entries: [cmd(3, 1), cmd(4, 1)], leaderCommit: 3 }))
    expect(f().commitIndex).toBe(3)
    // A heartbeat anchored at 1 proves nothing about 2..4 beyond what was already known.
    c.inject("f", "a", append({ term: 1, prevLogIndex: 1, prevLogTerm: 1, leaderCommit: 4 }))
    expect(f().commitIndex).toBe(3)
    c.inject("f", "a", append({ term: 1, prevLogIndex: 4, prevLogTerm: 1, leaderCommit: 4 }))
    expect(f().commitIndex).toBe(4)
    c.inject("f", "a", append({ term: 1, prevLogIndex: 4, prevLogTerm: 1, leaderCommit: 2 }))
    expect(f().commitIndex).toBe(4)
    expect(c.committed.get("f" as never)!.map((e) => e.index)).toEqual([1, 2, 3, 4])
  })

  it("rule 5: a follower never commits entries a conflicting frame would have replaced", () => {
    const c = setup()
    // Entries 2..3 from term 1 were never committed; a term-2 leader holds something else at 3.
    c.inject("f", "a", append({ term: 1, entries: [noop(1, 1), cmd(2, 1), cmd(3, 1)], leaderCommit: 1 }))
    c.inject("f", "x", append({ term: 2, prevLogIndex: 2, prevLogTerm: 1, entries: [noop(3, 2)], leaderCommit: 3 }))
    const f = c.node("f")
    expect(logTerms(f)).toEqual([1, 1, 2])
    expect(f.commitIndex).toBe(3)
    expect(c.committed.get("f" as never)!.map((e) => [e.index, e.term])).toEqual([[1, 1], [2, 1], [3, 2]])
  })
})
