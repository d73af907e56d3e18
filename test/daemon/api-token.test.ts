/**
 * The API token file and how the CLI finds it (src/daemon/api-token.ts),
 * and the request guard's Host parsing (src/daemon/http-guard.ts), without
 * processes.
 */
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findApiToken, loadOrCreateApiToken, writeApiRecord } from '../../src/daemon/api-token.js'
import { createRequestGuard, hostOf } from '../../src/daemon/http-guard.js'

let dir: string

beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'starling-token-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('the token file', () => {
  it('is created once (0600), then reused; a loose mode is tightened; a malformed one is a ConfigError', async () => {
    const data = join(dir, 'data')
    const first = await loadOrCreateApiToken(data)
    expect(first.created).toBe(true)
    expect((await stat(first.file)).mode & 0o777).toBe(0o600)
    await chmod(first.file, 0o644)
    const again = await loadOrCreateApiToken(data)
    expect(again).toMatchObject({ token: first.token, created: false })
    expect((await stat(first.file)).mode & 0o777).toBe(0o600)
    await writeFile(first.file, 'short\n')
    await expect(loadOrCreateApiToken(data)).rejects.toThrow(expect.objectContaining({ name: 'ConfigError', message: expect.stringMatching(/malformed/) }))
  })
})

describe('findApiToken', () => {
  it('STARLING_API_TOKEN, then the API record (also for localhost and a wildcard bind), then STARLING_DATA_DIR, then the default data folder', async () => {
    const env = { XDG_RUNTIME_DIR: join(dir, 'run'), XDG_DATA_HOME: join(dir, 'xdg') }
    const def = await loadOrCreateApiToken(join(dir, 'xdg', 'starling'))
    expect(await findApiToken('http://127.0.0.1:7999', env)).toBe(def.token)
    const other = await loadOrCreateApiToken(join(dir, 'other'))
    expect(await findApiToken('http://127.0.0.1:7999', { ...env, STARLING_DATA_DIR: join(dir, 'other') })).toBe(other.token)
    const rec = await loadOrCreateApiToken(join(dir, 'recorded'))
    const remove = await writeApiRecord(join(dir, 'run', 'starling'), { api: 'http://127.0.0.1:7999', tokenFile: rec.file, pid: process.pid })
    expect(await findApiToken('http://127.0.0.1:7999', { ...env, STARLING_DATA_DIR: join(dir, 'other') })).toBe(rec.token)
    expect(await findApiToken('http://localhost:7999', env)).toBe(rec.token)
    expect(await findApiToken('http://127.0.0.1:7999', { ...env, STARLING_API_TOKEN: 'explicit' })).toBe('explicit')
    await remove()
    expect(await findApiToken('http://127.0.0.1:7999', env)).toBe(def.token)
    const wild = await writeApiRecord(join(dir, 'run', 'starling'), { api: 'http://0.0.0.0:7998', tokenFile: rec.file, pid: process.pid })
    expect(await findApiToken('http://127.0.0.1:7998', env)).toBe(rec.token)
    await wild()
    expect(await findApiToken('http://127.0.0.1:7999', { XDG_RUNTIME_DIR: join(dir, 'run'), XDG_DATA_HOME: join(dir, 'none') })).toBeUndefined()
  })
})

describe('the request guard', () => {
  const guard = createRequestGuard({ token: 't'.repeat(64), listenHost: '0.0.0.0', extraHosts: ['starling.internal'] })
  const req = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage
  const status = (headers: Record<string, string>, path = '/api/v1/info'): number => {
    try { guard.check(req(headers), path); return 200 } catch (err) { return (err as { status: number }).status }
  }

  it('parses Host headers', () => {
    expect(hostOf('Example.com:7483')).toBe('example.com')
    expect(hostOf('[::1]:7483')).toBe('::1')
    expect(hostOf('127.0.0.1')).toBe('127.0.0.1')
    expect(hostOf('[::1')).toBeUndefined()
    expect(hostOf('a:b:c')).toBeUndefined()
  })

  it('Host: loopback, apiHosts and (on a wildcard) local addresses pass; other names do not', () => {
    const auth = { authorization: `Bearer ${'t'.repeat(64)}` }
    expect(status({ ...auth, host: '127.0.0.2:1' })).toBe(200)
    expect(status({ ...auth, host: '[::1]:1' })).toBe(200)
    expect(status({ ...auth, host: 'starling.internal:1' })).toBe(200)
    expect(status({ ...auth, host: 'evil.example:1' })).toBe(403)
    expect(status({ ...auth, host: '203.0.113.9:1' })).toBe(403)
    expect(status({ ...auth })).toBe(403)
    expect(status({ host: '127.0.0.1:1' }, '/metrics')).toBe(200)
    expect(status({ host: '127.0.0.1:1' })).toBe(401)
    expect(status({ host: '127.0.0.1:1', authorization: 'Bearer x' })).toBe(401)
  })
})
