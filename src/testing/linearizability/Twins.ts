/**
 * Twins: unknown-outcome operations with equal inputs. Neither has a return to meet, and their
 * outputs are both unknown, so they are interchangeable — except that each may only take effect
 * after its own call. Given any linearization, sort the positions where twins take effect and
 * give them to the twins in call order: every call still precedes its position, so the result is
 * a linearization too. The search therefore only needs linearizations that place twins in call
 * order (a twin waits for the one called before it), which prunes the orderings of repeated
 * timed-out writes that Jepsen histories are full of.
 *
 * Input equality is decided on plain data only (strings, numbers, booleans, null, undefined,
 * arrays and plain objects): anything else (class instances, Maps, functions, symbols, bigints,
 * cycles) is never a twin, so a model whose inputs are richer loses the pruning, never soundness.
 */

/** A canonical text of plain data (equal text ⇔ equal data), or undefined if `x` is not plain. */
export const plainKey = (x: unknown, depth = 0): string | undefined => {
  if (depth > 32) return undefined
  switch (typeof x) {
    case "string":
      return JSON.stringify(x)
    case "number":
      return Object.is(x, -0) ? "-0" : String(x)
    case "boolean":
      return x ? "t" : "f"
    case "undefined":
      return "u"
    case "object": {
      if (x === null) return "n"
      if (Array.isArray(x)) {
        const parts: Array<string> = []
        for (const v of x) {
          const k = plainKey(v, depth + 1)
          if (k === undefined) return undefined
          parts.push(k)
        }
        return `[${parts.join(",")}]`
      }
      const proto = Object.getPrototypeOf(x)
      if (proto !== Object.prototype && proto !== null) return undefined
      if (Object.getOwnPropertySymbols(x).length > 0) return undefined
      const parts: Array<string> = []
      for (const key of Object.keys(x).sort()) {
        const k = plainKey((x as Record<string, unknown>)[key], depth + 1)
        if (k === undefined) return undefined
        parts.push(`${JSON.stringify(key)}:${k}`)
      }
      return `{${parts.join(",")}}`
    }
    default:
      return undefined
  }
}

/**
 * For each operation (indexed in call order), the closest earlier unknown-outcome operation with
 * an equal input, or -1. Only unknown-outcome operations get one.
 */
export const previousTwins = (inputs: ReadonlyArray<unknown>, unknown: (i: number) => boolean): Int32Array => {
  const previous = new Int32Array(inputs.length).fill(-1)
  const last = new Map<string, number>()
  for (let i = 0; i < inputs.length; i++) {
    if (!unknown(i)) continue
    const key = plainKey(inputs[i])
    if (key === undefined) continue
    const before = last.get(key)
    if (before !== undefined) previous[i] = before
    last.set(key, i)
  }
  return previous
}
