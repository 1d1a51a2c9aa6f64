/**
 * Every IndexedDbRaftStorage suite in one page, so one Chromium launch serves them all
 * (`IndexedDbRaftStorage.test.ts` checks each suite's results by its describe name).
 */
import "./indexeddb.browser.js"
import "./indexeddb-integrity.browser.js"
import "./indexeddb-cluster.browser.js"
