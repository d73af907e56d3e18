import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./src/polyfill.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start many OS processes; on 2 cores running files in
    // parallel only makes them fight for CPU and trip libp2p timeouts.
    fileParallelism: false
  }
})
