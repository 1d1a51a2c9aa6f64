/**
 * Which turn of the event loop this is, as a number: it goes up once per loop iteration in which
 * anyone asked (a `setImmediate` is armed on the first question of a turn). The relay counts each
 * connection's frames per turn with it, so one connection's burst is spread over several turns
 * instead of holding the loop (see `HostHandshake.ts`).
 */
export class Turns {
  private turn = 0
  private armed = false

  current(): number {
    if (!this.armed) {
      this.armed = true
      setImmediate(() => {
        this.turn++
        this.armed = false
      })
    }
    return this.turn
  }
}
