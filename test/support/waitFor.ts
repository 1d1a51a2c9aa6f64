/**
 * Bounded waits on a condition, for tests on the real clock (processes, browsers, sockets).
 *
 * A test that waits for something polls what it can observe until a predicate holds. When the
 * bound runs out, the failure says what was awaited, for how long, how many times it looked, and
 * what it saw last: on a loaded CI machine "timed out" alone does not tell a slow machine from a
 * stuck peer. Bounds are chosen at the call site for what is awaited (say why there); nothing here
 * sleeps for a fixed time to let something happen.
 */
import { Clock, Duration, Effect } from "effect"

export interface WaitOptions<A> {
  /** What is awaited, in words ("the Node node applied 15 commands"). */
  readonly what: string
  /** The bound. Past it the wait fails with the last observation. */
  readonly timeoutMs: number
  /** Poll period; default 25 ms. */
  readonly intervalMs?: number
  /** Renders an observation for the failure message; default JSON. */
  readonly show?: (observed: A) => string
  /** Checked before each poll: a reason to give up at once (a child exited, a page crashed). */
  readonly abortIf?: () => string | undefined
}

const DEFAULT_INTERVAL_MS = 25

const render = <A>(observed: A | undefined, polls: number, show: ((a: A) => string) | undefined): string => {
  if (polls === 0) return "nothing (no observation completed)"
  if (show !== undefined) return show(observed as A)
  try {
    return JSON.stringify(observed)
  } catch {
    return String(observed)
  }
}

const timedOutMessage = <A>(options: WaitOptions<A>, elapsedMs: number, polls: number, last: A | undefined) =>
  `timed out after ${Math.round(elapsedMs)} ms (bound ${options.timeoutMs} ms, ${polls} polls) waiting for ${options.what}; ` +
  `last observed: ${render(last, polls, options.show)}`

const abortedMessage = <A>(options: WaitOptions<A>, reason: string, polls: number, last: A | undefined) =>
  `gave up waiting for ${options.what}: ${reason}; last observed: ${render(last, polls, options.show)}`

/**
 * Polls `observe` until `done` holds for what it returns, and returns that observation. Rejects
 * after `timeoutMs` (or when `abortIf` gives a reason) with the last observation in the message.
 */
export const waitFor = async <A>(
  observe: () => A | Promise<A>,
  done: (observed: A) => boolean,
  options: WaitOptions<A>
): Promise<A> => {
  const started = performance.now()
  let polls = 0
  let last: A | undefined
  for (;;) {
    const reason = options.abortIf?.()
    if (reason !== undefined) throw new Error(abortedMessage(options, reason, polls, last))
    last = await observe()
    polls++
    if (done(last)) return last
    const elapsed = performance.now() - started
    if (elapsed >= options.timeoutMs) throw new Error(timedOutMessage(options, elapsed, polls, last))
    await new Promise((r) => setTimeout(r, options.intervalMs ?? DEFAULT_INTERVAL_MS))
  }
}

/**
 * `waitFor` as an Effect on the live clock (use it in `it.live` / `it.scopedLive` tests: under a
 * TestClock it would wait for the clock to be adjusted). Dies with the same message when the
 * bound runs out, so the test fails with it.
 */
export const waitForEffect = <A, E, R>(
  observe: Effect.Effect<A, E, R>,
  done: (observed: A) => boolean,
  options: WaitOptions<A>
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    let polls = 0
    let last: A | undefined
    for (;;) {
      const reason = options.abortIf?.()
      if (reason !== undefined) return yield* Effect.dieMessage(abortedMessage(options, reason, polls, last))
      last = yield* observe
      polls++
      if (done(last)) return last
      const elapsed = (yield* Clock.currentTimeMillis) - started
      if (elapsed >= options.timeoutMs) return yield* Effect.dieMessage(timedOutMessage(options, elapsed, polls, last))
      yield* Effect.sleep(Duration.millis(options.intervalMs ?? DEFAULT_INTERVAL_MS))
    }
  })
