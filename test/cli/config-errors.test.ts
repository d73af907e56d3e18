/**
 * Bad configuration stops `starling daemon` at start-up with one line that
 * names the key (or the address), exit code 2, and no stack trace.
 */
import { createServer } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeDir, runCli, tempDir } from './helpers.js'

let dir: string
beforeAll(async () => { dir = await tempDir() })
afterAll(async () => { await removeDir(dir) })

const PEER_ID = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

function expectOneCleanLine (stderr: string): void {
  const lines = stderr.trim().split('\n')
  expect(lines).toHaveLength(1)
  expect(stderr).not.toMatch(/\n\s+at /) // no stack trace
  expect(lines[0]).toMatch(/^starling: config: /)
}

async function closedPort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  await new Promise(resolve => s.close(resolve))
  return port
}

describe('starling daemon: configuration errors', () => {
  it('an unknown key in the YAML file', async () => {
    const file = join(dir, 'bad.yaml')
    await writeFile(file, 'cacheSize: 1GiB\ncache_size: 2GiB\n')
    const r = await runCli(['daemon', '--config', file, '--data-dir', dir, '--api', '127.0.0.1:0'])
    expect(r.code).toBe(2)
    expectOneCleanLine(r.stderr)
    expect(r.stderr).toMatch(/unknown config key cache_size/)
  })

  it('a bad size string, from a flag and from the environment', async () => {
    const r = await runCli(['daemon', '--data-dir', dir, '--api', '127.0.0.1:0', '--cache-size', '10 parsecs'])
    expect(r.code).toBe(2)
    expectOneCleanLine(r.stderr)
    expect(r.stderr).toMatch(/cacheSize \(from --cache-size\): expected a byte size like 10GiB/)
    const e = await runCli(['daemon', '--data-dir', dir, '--api', '127.0.0.1:0'], { env: { STARLING_UPLOAD_RATE: 'fast' } })
    expect(e.code).toBe(2)
    expectOneCleanLine(e.stderr)
    expect(e.stderr).toMatch(/uploadRate \(from STARLING_UPLOAD_RATE\)/)
  })

  it('an unreachable bootstrap address', async () => {
    const addr = `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${PEER_ID}`
    const r = await runCli(['daemon', '--data-dir', dir, '--api', '127.0.0.1:0', '--bootstrap', addr])
    expect(r.code).toBe(2)
    expectOneCleanLine(r.stderr)
    expect(r.stderr).toContain(`bootstrap: cannot reach ${addr} (ECONNREFUSED)`)
  })

  it('a bootstrap address without a peer id, and a bad flag value', async () => {
    const r = await runCli(['daemon', '--data-dir', dir, '--bootstrap', '/ip4/127.0.0.1/tcp/7480'])
    expect(r.code).toBe(2)
    expectOneCleanLine(r.stderr)
    expect(r.stderr).toMatch(/bootstrap\.0 \(from --bootstrap\): a bootstrap address needs the peer id/)
    const l = await runCli(['daemon', '--log-level', 'loud'])
    expect(l.code).toBe(2)
    expect(l.stderr).toMatch(/--log-level/)
  })

  it('--help works and exits 0', async () => {
    const r = await runCli(['--help'])
    expect(r.code).toBe(0)
    for (const c of ['daemon', 'get', 'add', 'info', 'ls', 'stat', 'rm', 'peers', 'gc', 'version']) expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'))
  })
})
