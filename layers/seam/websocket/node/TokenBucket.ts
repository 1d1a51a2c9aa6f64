/**
 * A token bucket that may go into debt: `take` always succeeds and answers how long the caller must
 * wait until the bucket is back to zero. The host uses it per connection (messages and bytes): a
 * frame already read is relayed, and a connection in debt stops being read until the debt is paid,
 * so TCP flow control pushes back on the sender instead of the host dropping frames.
 *
 * Plain arithmetic on a caller-supplied time (ms), so it is exact under a test clock.
 */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor(
    /** Tokens added per second. */
    readonly rate: number,
    /** Most tokens held (the burst a quiet connection may send at once). */
    readonly burst: number,
    now: number
  ) {
    this.tokens = burst
    this.last = now
  }

  /** Takes `n` tokens; returns 0 when the bucket is not in debt, else the ms until it is not. */
  take(n: number, now: number): number {
    this.refill(now)
    this.tokens -= n
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000
  }

  /** Tokens available now (negative: debt). */
  available(now: number): number {
    this.refill(now)
    return this.tokens
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate)
      this.last = now
    }
  }
}
