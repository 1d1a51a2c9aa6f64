import { resolve } from "node:path"
import { defineConfig } from "vitest/config"

const src = resolve(import.meta.dirname, "src")

export default defineConfig({
  // The package's entry points, as a consumer imports them (examples/ does), resolve to the
  // sources, as tsconfig.json's `paths` do for tsc and tsx.
  resolve: {
    alias: [
      { find: /^kuilt$/, replacement: resolve(src, "index.ts") },
      { find: /^kuilt\/(node|browser|testing)$/, replacement: resolve(src, "$1.ts") },
      { find: /^kuilt\/effect-cluster$/, replacement: resolve(src, "effect-cluster", "index.ts") }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    // Forks keep a crashing worker (a native module, a runaway test) from taking others down.
    pool: "forks",
    poolOptions: {
      forks: {
        // vitest's default on 2 cores is 1 worker (cores - 1), so the suite ran file after file.
        // Two: many of the slow files mostly wait (on Chromium, on child processes, on the real
        // clock), so another file runs meanwhile, and when other processes compete for the cores
        // two workers get a fairer share of them. Kept at 2 on bigger machines too: the
        // real-time tests are sized for two workers beside other load, not for eight.
        maxForks: 2,
        minForks: 1
      }
    },
    // A backstop for tests that set no bound of their own (virtual-time and pure tests). The
    // slowest of them takes about 9 s on a 2-core machine with both cores busy; 60 s leaves room
    // for two workers sharing those cores. Tests that spawn processes or browsers set their own
    // bound, the sum of the bounded waits inside, so an inner wait reports what it saw first.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Closing a worker that still holds a browser or a child process: Chromium's shutdown.
    teardownTimeout: 30_000,
    reporters: ["default"]
  }
})
