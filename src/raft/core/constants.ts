/** Bytes of every frame reserved for the envelope (kuilt-behaviour §2.5, HEADER_BUDGET). */
export const HEADER_RESERVE = 256
