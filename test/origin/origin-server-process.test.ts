/**
 * The test origin as a real OS process (what integration tests spawn). Needs
 * the compiled entry (`npm test` runs tsc first); skipped when it is absent.
 */
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createHttpOrigin } from '../../src/origin/index.js'
import { ORIGIN_SERVER_MAIN, spawnOriginServer } from '../fixtures/origin-server.js'
import { collect } from './conformance.js'

const MAIN = process.env.STARLING_ORIGIN_SERVER_MAIN ?? ORIGIN_SERVER_MAIN

describe.skipIf(!existsSync(MAIN))('origin server process', () => {
  it('serves files, counts bytes, toggles down/up, and exits on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'starling-origin-proc-'))
    const data = randomBytes(300_001)
    const file = join(dir, 'blob')
    await writeFile(file, data)
    const srv = await spawnOriginServer({ files: { '/b': file } }, MAIN)
    try {
      const o = createHttpOrigin({ url: `${srv.url}/b`, backoffMs: 5, retries: 2 })
      expect((await o.stat()).size).toBe(data.byteLength)
      expect((await collect(o.read({ start: 1, end: 100_001 }))).equals(data.subarray(1, 100_001))).toBe(true)
      let stats = await srv.stats()
      expect(stats.bytesSent).toBe(100_000)
      expect(stats.requests).toBe(2)
      expect(stats.rangeRequests).toEqual([{ path: '/b', start: 1, end: 100_001 }])

      await srv.setDown(true)
      await expect(o.stat()).rejects.toMatchObject({ name: 'OriginError', status: 503 })
      await srv.setDown(false)
      expect((await collect(o.read(undefined))).equals(data)).toBe(true)
      stats = await srv.stats()
      expect(stats.bytesSent).toBe(100_000 + data.byteLength)
    } finally {
      await srv.close()
      await rm(dir, { recursive: true, force: true })
    }
    expect(() => process.kill(srv.pid, 0)).toThrow()
  })
})
