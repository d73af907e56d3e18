/**
 * The library example runs as a user would run it (compiled, its own
 * process): a blob added on one node is fetched by digest alone on another,
 * right after the add — before the DHT may even know the provider.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)

describe('examples/library.ts', () => {
  it('fetches a freshly added blob from the other node, all from a peer', async () => {
    const { stdout } = await run(process.execPath, ['dist/examples/library.js'], { timeout: 60_000 })
    const m = /leecher streamed (\d+) bytes; by source: (\{.*\})/.exec(stdout)
    expect(m, stdout).not.toBeNull()
    expect(Number(m![1])).toBe(8 * 1024 * 1024)
    const bySource = JSON.parse(m![2])
    expect(bySource['peer-local']).toBe(8 * 1024 * 1024)
    expect(bySource.origin).toBe(0)
  }, 90_000)
})
