/**
 * The one identifier limit of kuilt: every id — a seam `PeerId`, a Raft `NodeId`, a `ClientId` —
 * is 1..255 bytes of well-formed UTF-8. One number in bytes, checked the same way by the Schemas,
 * the wire codecs (the length prefix and the decoder's bound) and the storages, so an id accepted
 * anywhere fits everywhere. Limits in UTF-16 units would let an id of 255 three-byte characters
 * (765 bytes) pass one check and overflow the next.
 */

/** The longest id, in UTF-8 bytes. */
export const MAX_ID_BYTES = 255

const utf8 = new TextEncoder()

/** Whether `s` holds no lone surrogate (it would be replaced when encoded to UTF-8). */
export const isWellFormed = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0xd800 || c > 0xdfff) continue
    if (c >= 0xdc00) return false
    const next = s.charCodeAt(i + 1)
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false
    i++
  }
  return true
}

/** UTF-8 length of a string (ASCII fast path: ids are nearly always ASCII). */
export const utf8Length = (s: string): number => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return utf8.encode(s).byteLength
  return s.length
}

/** The last id found valid: nearly every entry of a write carries the same client id. */
let lastValid: string | undefined = undefined

/** Why `id` cannot be an identifier, or `undefined` when it is 1..255 bytes of well-formed UTF-8. */
export const idProblem = (id: unknown): string | undefined => {
  if (id === lastValid) return undefined
  if (typeof id !== "string") return `is not a string (${typeof id})`
  if (id.length === 0) return "is empty"
  if (id.length > MAX_ID_BYTES) return `is ${utf8Length(id)} UTF-8 bytes long (max ${MAX_ID_BYTES})`
  if (!isWellFormed(id)) return "is not well-formed Unicode (a lone surrogate)"
  const bytes = utf8Length(id)
  if (bytes > MAX_ID_BYTES) return `is ${bytes} UTF-8 bytes long (max ${MAX_ID_BYTES})`
  lastValid = id
  return undefined
}

/** Whether `id` is a valid identifier (see `idProblem`). */
export const isId = (id: unknown): id is string => idProblem(id) === undefined
