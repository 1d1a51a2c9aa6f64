/**
 * Direct IndexedDB access for the browser tests: damage a stored record behind the storage's
 * back (as a corrupted profile, a devtools edit or a foreign writer would), or create databases
 * the storage must refuse. Each helper opens its own connection and closes it before returning.
 */
import { Effect } from "effect"

const promised = <A>(request: IDBRequest<A>): Promise<A> =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })

/** Opens `name` at `version` (default: its current one), running `upgrade` when one is needed. */
const open = (name: string, version?: number, upgrade?: (db: IDBDatabase) => void): Promise<IDBDatabase> => {
  const request = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version)
  if (upgrade !== undefined) request.onupgradeneeded = () => upgrade(request.result)
  request.onblocked = () => request.onerror?.(new Event("blocked"))
  return promised(request)
}

const done = (tx: IDBTransaction): Promise<void> =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onabort = () => reject(tx.error ?? new Error("aborted"))
  })

/**
 * Replaces the record at `key` in `store` with `change(old)` (`undefined` deletes it), in one
 * transaction on a separate connection. Fails the test when the record is absent and `change`
 * was meant to edit it.
 */
export const tamper = (
  name: string,
  store: string,
  key: IDBValidKey,
  change: (old: unknown) => unknown
): Effect.Effect<void> =>
  Effect.promise(async () => {
    const db = await open(name)
    try {
      const tx = db.transaction(store, "readwrite")
      const s = tx.objectStore(store)
      const next = change(await promised(s.get(key)))
      if (next === undefined) s.delete(key)
      else s.put(next, key)
      await done(tx)
    } finally {
      db.close()
    }
  })

/** The raw value stored at `key` in `store`. */
export const peek = (name: string, store: string, key: IDBValidKey): Effect.Effect<unknown> =>
  Effect.promise(async () => {
    const db = await open(name)
    try {
      return await promised(db.transaction(store, "readonly").objectStore(store).get(key))
    } finally {
      db.close()
    }
  })

/** Creates database `name` at `version` with the given (foreign) object stores, then closes it. */
export const createForeign = (name: string, version: number, stores: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.promise(async () => {
    const db = await open(name, version, (d) => {
      for (const s of stores) d.createObjectStore(s)
    })
    db.close()
  })

/** A copy of a sealed record (`{ crc32, data }`) with one bit of its data flipped, checksum kept. */
export const flipBit = (record: unknown, byte = 2): unknown => {
  const { crc32, data } = record as { readonly crc32: number; readonly data: Uint8Array }
  const copy = data.slice()
  const at = byte % copy.length
  copy[at] = copy[at]! ^ 0x10
  return { crc32, data: copy }
}
