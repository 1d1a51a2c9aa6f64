/**
 * A small stand-in for `@effect/vitest` inside a browser page, so the same conformance suites that
 * run under vitest in Node can run unchanged in headless Chromium (the harness in `chromium.ts`
 * aliases `@effect/vitest` to this module when it bundles a suite).
 *
 * It covers what the suites use: `describe`, `it` / `it.effect` / `it.scoped` / `it.live` /
 * `it.scopedLive` / `it.skip` (and `skipIf` on `it.effect` / `it.scoped`), and an `expect` with
 * the common matchers (deep equality follows vitest's `toEqual`: structural, undefined
 * properties ignored, typed arrays by element). Tests run one after another; each result is
 * recorded, never thrown, so one failure cannot hide others.
 */
import { Cause, Effect, Exit, TestContext } from "effect"
import type { Scope } from "effect"

export interface BrowserTestResult {
  readonly name: string
  readonly ok: boolean
  readonly skipped: boolean
  readonly error?: string
  readonly ms: number
}

interface Registered {
  readonly name: string
  readonly skipped: boolean
  readonly run: () => Promise<void>
  readonly timeoutMs: number
}

const registered: Array<Registered> = []
const prefix: Array<string> = []
const DEFAULT_TIMEOUT_MS = 30_000

const fullName = (name: string) => [...prefix, name].join(" > ")

export const describe = (name: string, body: () => void): void => {
  prefix.push(name)
  try {
    body()
  } finally {
    prefix.pop()
  }
}

type Body<A> = () => A
type Timeout = number | { readonly timeout?: number } | undefined
const timeoutOf = (t: Timeout) => (typeof t === "number" ? t : t?.timeout) ?? DEFAULT_TIMEOUT_MS

const runEffect = <E>(effect: Effect.Effect<unknown, E>): Promise<void> =>
  Effect.runPromiseExit(effect).then((exit) => {
    if (Exit.isFailure(exit)) throw new Error(Cause.pretty(exit.cause))
  })

const register = (name: string, run: () => Promise<void>, timeout: Timeout, skipped = false) => {
  registered.push({ name: fullName(name), run, timeoutMs: timeoutOf(timeout), skipped })
}

const plain = (name: string, body: Body<unknown>, timeout?: Timeout) =>
  register(name, async () => {
    await body()
  }, timeout)

const skip = (name: string, _body?: unknown, _timeout?: Timeout) => register(name, () => Promise.resolve(), undefined, true)

/** Adds vitest's `skipIf(condition)` to a test registrar: the registrar itself, or `skip`. */
const withSkipIf = <F extends (name: string, body: never, timeout?: Timeout) => void>(f: F) =>
  Object.assign(f, { skipIf: (condition: unknown) => (condition ? skip : f) })

export const it = Object.assign(plain, {
  effect: withSkipIf(<E>(name: string, body: Body<Effect.Effect<unknown, E, never>>, timeout?: Timeout) =>
    register(name, () => runEffect(Effect.provide(Effect.suspend(body), TestContext.TestContext)), timeout)),
  scoped: withSkipIf(<E>(name: string, body: Body<Effect.Effect<unknown, E, Scope.Scope>>, timeout?: Timeout) =>
    register(name, () => runEffect(Effect.provide(Effect.scoped(Effect.suspend(body)), TestContext.TestContext)), timeout)),
  live: <E>(name: string, body: Body<Effect.Effect<unknown, E, never>>, timeout?: Timeout) =>
    register(name, () => runEffect(Effect.suspend(body)), timeout),
  scopedLive: <E>(name: string, body: Body<Effect.Effect<unknown, E, Scope.Scope>>, timeout?: Timeout) =>
    register(name, () => runEffect(Effect.scoped(Effect.suspend(body))), timeout),
  skip
})

/** vitest-style deep equality: structural, `undefined`-valued keys ignored, typed arrays by element. */
export const deepEqual = (a: unknown, b: unknown): boolean => {
  if (Object.is(a, b)) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return false
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
    return x.length === y.length && x.every((v, i) => v === y[i])
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false
    return [...a].every(([k, v]) => b.has(k) && deepEqual(v, b.get(k)))
  }
  if (a instanceof Set || b instanceof Set) {
    if (!(a instanceof Set && b instanceof Set) || a.size !== b.size) return false
    return [...a].every((v) => b.has(v))
  }
  const keys = (o: object) => Object.keys(o).filter((k) => (o as Record<string, unknown>)[k] !== undefined)
  const ka = keys(a)
  const kb = keys(b)
  if (ka.length !== kb.length) return false
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

const show = (v: unknown): string => {
  try {
    return JSON.stringify(v, (_k, x) =>
      typeof x === "bigint" ? `${x}n` : ArrayBuffer.isView(x) ? `bytes[${(x as Uint8Array).length}]` : x)
  } catch {
    return String(v)
  }
}

const matchers = (actual: unknown, negated: boolean) => {
  const check = (pass: boolean, what: string) => {
    if (pass === negated) throw new Error(`expected ${show(actual)} ${negated ? "not " : ""}${what}`)
  }
  const num = () => actual as number
  return {
    toBe: (e: unknown) => check(Object.is(actual, e), `to be ${show(e)}`),
    toEqual: (e: unknown) => check(deepEqual(actual, e), `to equal ${show(e)}`),
    toStrictEqual: (e: unknown) => check(deepEqual(actual, e), `to strictly equal ${show(e)}`),
    toBeNull: () => check(actual === null, "to be null"),
    toBeUndefined: () => check(actual === undefined, "to be undefined"),
    toBeDefined: () => check(actual !== undefined, "to be defined"),
    toBeTruthy: () => check(Boolean(actual), "to be truthy"),
    toBeFalsy: () => check(!actual, "to be falsy"),
    toBeGreaterThan: (e: number) => check(num() > e, `to be > ${e}`),
    toBeGreaterThanOrEqual: (e: number) => check(num() >= e, `to be >= ${e}`),
    toBeLessThan: (e: number) => check(num() < e, `to be < ${e}`),
    toBeLessThanOrEqual: (e: number) => check(num() <= e, `to be <= ${e}`),
    toHaveLength: (n: number) => check((actual as { length: number }).length === n, `to have length ${n}`),
    toContain: (e: unknown) =>
      check(
        typeof actual === "string" ? actual.includes(e as string) : (actual as ReadonlyArray<unknown>).includes(e),
        `to contain ${show(e)}`
      ),
    toContainEqual: (e: unknown) =>
      check((actual as ReadonlyArray<unknown>).some((x) => deepEqual(x, e)), `to contain an element equal to ${show(e)}`),
    toMatch: (re: RegExp | string) => check(new RegExp(re).test(String(actual)), `to match ${String(re)}`),
    toBeInstanceOf: (c: abstract new(...args: never) => unknown) => check(actual instanceof c, `to be an instance of ${c.name}`),
    toThrow: () => {
      let threw = false
      try {
        ;(actual as () => unknown)()
      } catch {
        threw = true
      }
      check(threw, "to throw")
    }
  }
}

export const expect = (actual: unknown) => Object.assign(matchers(actual, false), { not: matchers(actual, true) })

const failIf = (cond: boolean, message: string) => {
  if (cond) throw new Error(message)
}
export const assert = {
  isTrue: (v: unknown, m?: string) => failIf(v !== true, m ?? `expected true, got ${show(v)}`),
  isFalse: (v: unknown, m?: string) => failIf(v !== false, m ?? `expected false, got ${show(v)}`),
  strictEqual: (a: unknown, b: unknown, m?: string) => failIf(!Object.is(a, b), m ?? `${show(a)} !== ${show(b)}`),
  deepStrictEqual: (a: unknown, b: unknown, m?: string) => failIf(!deepEqual(a, b), m ?? `${show(a)} !deep= ${show(b)}`),
  fail: (m?: string): never => {
    throw new Error(m ?? "assert.fail")
  }
}

const withTimeout = (p: Promise<void>, ms: number, name: string) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${name}`)), ms)
    p.then(() => {
      clearTimeout(t)
      resolve()
    }, (e: unknown) => {
      clearTimeout(t)
      reject(e instanceof Error ? e : new Error(String(e)))
    })
  })

/** Runs every registered test in order and returns one result per test. */
export const runRegistered = async (): Promise<ReadonlyArray<BrowserTestResult>> => {
  const results: Array<BrowserTestResult> = []
  const g = globalThis as { __kuiltProgress?: unknown }
  for (const t of registered) {
    // Where the run is, for the harness's timeout message (it quotes the latest progress).
    g.__kuiltProgress = {
      running: t.name,
      finished: results.length,
      of: registered.length,
      failed: results.filter((r) => !r.ok).map((r) => r.name)
    }
    if (t.skipped) {
      results.push({ name: t.name, ok: true, skipped: true, ms: 0 })
      continue
    }
    const started = performance.now()
    try {
      await withTimeout(t.run(), t.timeoutMs, t.name)
      results.push({ name: t.name, ok: true, skipped: false, ms: performance.now() - started })
    } catch (e) {
      const error = e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e)
      results.push({ name: t.name, ok: false, skipped: false, error, ms: performance.now() - started })
    }
  }
  return results
}
