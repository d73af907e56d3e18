/** `starling get --standalone`: an ephemeral node in the CLI process, no daemon. */
import { createHash, randomBytes } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOriginServer, type OriginServer } from '../fixtures/origin-server.js'
import { removeDir, runCli, tempDir } from './helpers.js'

let dir: string
let origin: OriginServer
const bytes = randomBytes(3_000_000)
const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`

beforeAll(async () => {
  dir = await tempDir()
  await writeFile(join(dir, 'f.bin'), bytes)
  origin = await startOriginServer({ files: { '/f.bin': join(dir, 'f.bin') } })
})
afterAll(async () => {
  await origin?.close()
  await removeDir(dir)
})

describe('starling get --standalone', () => {
  it('fetches with --digest, verifies, writes atomically', async () => {
    const out = join(dir, 'out.bin')
    const r = await runCli(['--json', 'get', `${origin.url}/f.bin`, '--digest', digest, '--standalone', '-o', out], { env: { STARLING_API: '127.0.0.1:9' } })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).bytesBySource.origin).toBe(bytes.byteLength)
    expect((await readFile(out)).equals(bytes)).toBe(true)
  })

  it('learns the digest of a URL given without one', async () => {
    const out = join(dir, 'out2.bin')
    const r = await runCli(['--json', 'get', `${origin.url}/f.bin`, '--standalone', '-o', out])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).digest).toBe(digest)
    expect((await readFile(out)).equals(bytes)).toBe(true)
  })

  it('refuses bytes that do not match --digest and leaves nothing behind', async () => {
    const out = join(dir, 'bad.bin')
    const r = await runCli(['get', `${origin.url}/f.bin`, '--digest', `sha256:${'3'.repeat(64)}`, '--standalone', '-o', out])
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect((await readdir(dir)).filter(f => f.startsWith('bad.bin') || f.includes('.tmp'))).toEqual([])
  })
})
