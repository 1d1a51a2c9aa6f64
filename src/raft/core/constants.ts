/** Bytes of every frame reserved for the envelope (the original library's HEADER_BUDGET). */
export const HEADER_RESERVE = 256
