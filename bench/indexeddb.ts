/**
 * Prints IndexedDbRaftStorage's append throughput in headless Chromium as one JSON line
 * (`npm run bench:indexeddb`); see `pages/indexeddb.browser.ts`.
 */
import { fileURLToPath } from "node:url"
import { runInChromium } from "../test/support/chromium.js"

const entry = fileURLToPath(new URL("./pages/indexeddb.browser.ts", import.meta.url))
runInChromium(entry, { timeoutMs: 90_000 }).then(
  (result) => console.log(JSON.stringify({ bench: "indexeddb.append", ...(result as object) })),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
