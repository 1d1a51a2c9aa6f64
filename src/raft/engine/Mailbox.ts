/**
 * The drive loop's input queue: a plain array with a head, in plain TypeScript (no Effect), so the
 * engine and the simulators share it. Producers push synchronously; the single consumer (the
 * `Driver`) takes items oldest first, all of them or until its turn's budget is spent — what is
 * left waits, in order, for the next turn. `notify` is called on every push (the engine rings its
 * `Doorbell` there; simulators need nothing). This keeps a propose round trip at ~1 µs of queue
 * overhead instead of the ~10 µs of `Queue` + `Deferred` (docs/ARCHITECTURE.md, "Raft").
 */
export class Mailbox<A> {
  /** Slots `head..count-1` hold the queue; the array keeps its capacity from turn to turn. */
  private readonly items: Array<A | undefined> = []
  private head = 0
  private count = 0

  constructor(private readonly notify: () => void = () => {}) {}

  get size(): number {
    return this.count - this.head
  }

  push(item: A): void {
    if (this.count === this.items.length) this.items.push(item)
    else this.items[this.count] = item
    this.count++
    this.notify()
  }

  /**
   * Hands queued items to `f`, oldest first (items queued meanwhile included), until `f` returns
   * false: the item it returned false for was taken, the rest stay queued. Taken slots are cleared
   * (nothing is retained); the array keeps its capacity (truncating it would free its backing
   * store, reallocated on the next push).
   */
  drain(f: (item: A) => boolean | void): void {
    const items = this.items
    while (this.head < this.count) {
      const item = items[this.head]!
      items[this.head] = undefined
      this.head++
      if (f(item) === false) break
    }
    if (this.head === this.count) {
      this.head = 0
      this.count = 0
    } else if (this.head >= 1024 && this.head * 2 >= this.count) {
      // A queue that never empties (a budget cut every turn) would otherwise only grow.
      items.copyWithin(0, this.head, this.count)
      items.fill(undefined, this.count - this.head, this.count)
      this.count -= this.head
      this.head = 0
    }
  }

  /** Everything queued, oldest first (may be empty). */
  takeAll(): Array<A> {
    const out: Array<A> = []
    this.drain((item) => void out.push(item))
    return out
  }
}
