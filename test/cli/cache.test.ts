/**
 * Cache quota through the CLI: over the quota, the least recently used
 * complete blobs go, the newest and the recently read stay, pinned ones
 * are never evicted.
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { metrics, removeDir, runCli, startDaemonProcess, tempDir, type DaemonProcess } from './helpers.js'

const MiB = 1024 * 1024
let dir: string
let d: DaemonProcess

beforeAll(async () => {
  dir = await tempDir()
  d = await startDaemonProcess(join(dir, 'data'), ['--cache-size', '3MiB', '--gc-interval', '0'])
})

afterAll(async () => {
  await d?.stop()
  await removeDir(dir)
})

async function add (name: string, ...flags: string[]): Promise<string> {
  const f = join(dir, name)
  await writeFile(f, randomBytes(MiB))
  const r = await runCli(['--api', d.api, 'add', f, ...flags])
  expect(r.stderr).toBe('')
  // Distinct last-access times for the LRU order.
  await new Promise(resolve => setTimeout(resolve, 20))
  return r.stdout.trim()
}

async function held (): Promise<string[]> {
  const r = await runCli(['--api', d.api, '--json', 'ls'])
  return (JSON.parse(r.stdout) as Array<{ digest: string, complete: boolean }>).filter(b => b.complete).map(b => b.digest)
}

describe('cache quota', () => {
  it('evicts the least recently used complete blobs, keeps the newest, the recently read and the pinned', async () => {
    const pinned = await add('p', '--pin')
    const x1 = await add('x1')
    const x2 = await add('x2')
    expect((await held()).sort()).toEqual([pinned, x1, x2].sort())
    // Reading x1 makes x2 the least recently used.
    const r = await runCli(['--api', d.api, 'get', x1, '-o', join(dir, 'x1.out')])
    expect(r.code).toBe(0)
    await new Promise(resolve => setTimeout(resolve, 20))
    const x3 = await add('x3')
    const gc = JSON.parse((await runCli(['--api', d.api, '--json', 'gc'])).stdout) as { evicted: string[] }
    const now = await held()
    expect(now).toContain(x3) // newest
    expect(now).toContain(x1) // recently read
    expect(now).toContain(pinned) // pinned, though the oldest
    expect(now).not.toContain(x2) // least recently used
    expect(now).toHaveLength(3)
    // Whether the store evicted while adding or `starling gc` did, x2 went exactly once.
    expect(gc.evicted.filter(e => e !== x2)).toEqual([])
    const m = await metrics(d.api)
    expect(m.get('starling_cache_bytes')).toBeLessThanOrEqual(3 * MiB)
    expect(m.get('starling_cache_evictions_total')).toBe(1)
    expect(m.get('starling_cache_quota_bytes')).toBe(3 * MiB)
  })
})
