/**
 * `starling get hf://…` against a local fake of the Hugging Face Hub
 * (test/fixtures/fake-hub.ts) with two real daemons: the files a glob
 * selects arrive verified against the sha256 the Hub's API lists (git blob
 * ids for small files), the token goes to the hub and not to the CDN it
 * redirects to, a file whose served bytes differ fails and leaves nothing,
 * and a second daemon gets the LFS files from the first with zero CDN bytes.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256Hex, startFakeHub, type FakeHub, type FakeHubFile } from '../fixtures/fake-hub.js'
import { removeDir, runCli, startDaemonProcess, tempDir, waitReady, type DaemonProcess } from './helpers.js'

const MiB = 1024 * 1024
const REPO = 'acme/tiny-model'
const TOKEN = 'hf_test_token_123'
const bad = randomBytes(5 * MiB + 7)
const files: FakeHubFile[] = [
  { path: 'model-00001-of-00002.safetensors', content: randomBytes(3 * MiB), lfs: true },
  { path: 'sub/model-00002-of-00002.safetensors', content: randomBytes(MiB + 123), lfs: true },
  { path: 'config.json', content: Buffer.from(JSON.stringify({ hidden_size: 64, layers: 2 }, null, 2)), lfs: false },
  { path: 'README.md', content: Buffer.from('# tiny model\n'), lfs: false, served: Buffer.from('# tiny modem\n') },
  { path: 'onnx/model.onnx', content: randomBytes(256 * 1024), lfs: true },
  // The API lists `bad`'s sha256; the CDN serves the same length with one byte changed.
  { path: 'bad.safetensors', content: bad, lfs: true, served: Buffer.from(bad).fill(bad[0] ^ 1, 0, 1) }
]
const wanted = files.filter(f => ['model-00001-of-00002.safetensors', 'sub/model-00002-of-00002.safetensors', 'config.json'].includes(f.path))
const lfsBytes = wanted.filter(f => f.lfs).reduce((n, f) => n + f.content.byteLength, 0)
const smallBytes = wanted.filter(f => !f.lfs).reduce((n, f) => n + f.content.byteLength, 0)
const GET_ARGS = ['get', `hf://${REPO}`, '--include', '*.safetensors', '--include', '*.json', '--exclude', 'bad.*']

let dir: string
let hub: FakeHub
let a: DaemonProcess
let b: DaemonProcess
let env: NodeJS.ProcessEnv

beforeAll(async () => {
  dir = await tempDir('starling-hf-')
  hub = await startFakeHub({ repo: REPO, files, token: TOKEN })
  env = { HF_ENDPOINT: hub.endpoint, HF_TOKEN: TOKEN }
  a = await startDaemonProcess(join(dir, 'a'))
  b = await startDaemonProcess(join(dir, 'b'), ['--bootstrap', a.addresses[0]])
  await Promise.all([waitReady(a.api), waitReady(b.api)])
}, 90_000)

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()])
  await hub?.close()
  await removeDir(dir)
})

async function expectFiles (out: string): Promise<void> {
  for (const f of wanted) expect(sha256Hex(await readFile(join(out, f.path))), f.path).toBe(sha256Hex(f.content))
  for (const p of ['README.md', 'onnx/model.onnx', 'bad.safetensors']) {
    await expect(stat(join(out, p)), `${p} is left out by the globs`).rejects.toThrow(/ENOENT/)
  }
}

describe('starling get hf://', () => {
  it('fetches the files the globs select through the daemon, each verified, the token never sent to the CDN', async () => {
    const out = join(dir, 'out-a')
    const r = await runCli(['--api', a.api, '--json', ...GET_ARGS, '-o', out], { env, timeoutMs: 90_000 })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    await expectFiles(out)
    const result = JSON.parse(r.stdout)
    expect(result.commit).toBe(hub.commit)
    expect(result.files.map((f: { path: string }) => f.path)).toEqual(wanted.map(f => f.path).sort())
    for (const f of result.files) {
      const src = wanted.find(w => w.path === f.path)!
      expect(f.digest).toBe(`sha256:${sha256Hex(src.content)}`)
      expect(f.size).toBe(src.content.byteLength)
    }
    const cdnBytes = hub.cdn.bytesSent()
    console.log(`first daemon: CDN sent ${cdnBytes} bytes for ${lfsBytes} LFS bytes; resolve sent ${hub.resolveBytes()} for ${smallBytes} small-file bytes`)
    expect(cdnBytes).toBeGreaterThanOrEqual(lfsBytes)
    expect(cdnBytes).toBeLessThanOrEqual(lfsBytes * 1.25)
    expect(hub.resolveBytes()).toBe(smallBytes)
    // The tree listing is paged (2 entries a page): more than one tree call was made and followed.
    expect(hub.log().filter(l => l.includes('/tree/')).length).toBeGreaterThan(2)
    // Every CDN request came through the 302, and none carried the hub token.
    expect(hub.cdn.requestLog().length).toBeGreaterThan(0)
    for (const req of hub.cdn.requestLog()) expect(req.headers.authorization).toBeUndefined()
  })

  it('a second daemon gets the LFS files from the first with zero CDN bytes', async () => {
    const cdnBefore = hub.cdn.bytesSent()
    const cdnGetsBefore = hub.cdn.requestLog().filter(l => l.method === 'GET').length
    const resolveBefore = hub.resolveBytes()
    const out = join(dir, 'out-b')
    const r = await runCli(['--api', b.api, '--json', ...GET_ARGS, '-o', out], { env, timeoutMs: 90_000 })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    await expectFiles(out)
    const cdnDelta = hub.cdn.bytesSent() - cdnBefore
    const cdnGets = hub.cdn.requestLog().filter(l => l.method === 'GET').length - cdnGetsBefore
    console.log(`second daemon: CDN sent ${cdnDelta} bytes in ${cdnGets} GETs; resolve sent ${hub.resolveBytes() - resolveBefore} small-file bytes`)
    expect(cdnDelta).toBe(0)
    // Files kept in git have no sha256 until downloaded: they come from the hub again (docs/model-hubs.md).
    expect(hub.resolveBytes() - resolveBefore).toBe(smallBytes)
    const result = JSON.parse(r.stdout)
    for (const f of result.files.filter((x: { path: string }) => x.path.endsWith('.safetensors'))) {
      const peers = (f.bytesBySource['peer-local'] ?? 0) + (f.bytesBySource['peer-remote'] ?? 0)
      expect(peers, f.path).toBe(f.size)
      expect(f.bytesBySource.origin ?? 0, f.path).toBe(0)
    }
  })

  it('a file whose served bytes differ from the sha256 the API lists fails clearly and leaves nothing', async () => {
    const out = join(dir, 'bad-out')
    const target = join(out, 'bad.safetensors')
    const r = await runCli(['--api', a.api, 'get', `hf://${REPO}/bad.safetensors`, '-o', target], { env: { ...env, HF_TOKEN: '' }, timeoutMs: 90_000 })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/HTTP 401 .*HF_TOKEN/)
    const r2 = await runCli(['--api', a.api, 'get', `hf://${REPO}/bad.safetensors`, '-o', target], { env, timeoutMs: 90_000 })
    console.log(`bad file: exit ${r2.code}: ${r2.stderr.trim()}`)
    expect(r2.code).toBe(1)
    expect(r2.stderr).toContain(`hf://${REPO}/bad.safetensors`)
    // The daemon cut the body (undici: "terminated"); the events stream told the CLI why.
    expect(r2.stderr).toContain(`the hub lists sha256:${sha256Hex(bad)}`)
    expect(r2.stderr).toMatch(/DigestMismatchError: .*the assembled bytes hash to sha256:/)
    await expect(stat(target)).rejects.toThrow(/ENOENT/)
    expect(await readdir(out).catch(() => [])).toEqual([])
    // Plain `get URL --digest` through the daemon reads the cut body the same way.
    const r3 = await runCli(['--api', a.api, 'get', `${hub.cdn.url}/lfs/${sha256Hex(bad)}`, '--digest', `sha256:${sha256Hex(bad)}`, '-o', target], { timeoutMs: 90_000 })
    expect(r3.code).toBe(1)
    expect(r3.stderr).toMatch(/the daemon's fetch failed: DigestMismatchError: .*the assembled bytes hash to sha256:/)
    await expect(stat(target)).rejects.toThrow(/ENOENT/)
  })

  it('a file kept in git is checked against its git blob id', async () => {
    const target = join(dir, 'readme-out', 'README.md')
    const r = await runCli(['--api', a.api, 'get', `hf://${REPO}/README.md`, '-o', target], { env, timeoutMs: 60_000 })
    expect(r.code).toBe(1)
    const listed = createHash('sha1').update('blob 13\0# tiny model\n').digest('hex')
    expect(r.stderr).toContain(`hf://${REPO}/README.md: the bytes served have git blob id`)
    expect(r.stderr).toContain(`the hub lists ${listed}; nothing written`)
    await expect(stat(target)).rejects.toThrow(/ENOENT/)
    expect(await readdir(join(dir, 'readme-out'))).toEqual([])
  })

  it('one file at a commit sha, with --hf-token, to -o FILE', async () => {
    const target = join(dir, 'config-at-commit.json')
    const r = await runCli(['--api', b.api, '--json', 'get', `hf://${REPO}@${hub.commit}/config.json`, '--hf-token', TOKEN, '-o', target],
      { env: { HF_ENDPOINT: hub.endpoint }, timeoutMs: 60_000 })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const config = files.find(f => f.path === 'config.json')!
    expect(await readFile(target)).toEqual(config.content)
    const result = JSON.parse(r.stdout)
    expect(result.files[0].digest).toBe(`sha256:${createHash('sha256').update(config.content).digest('hex')}`)
    expect(hub.log()).toContain(`GET /api/models/${REPO}/revision/${hub.commit}`)
  })

  it('--standalone: one in-process node fetches several files from the daemon that holds them, zero CDN bytes', async () => {
    const cdnBefore = hub.cdn.bytesSent()
    const out = join(dir, 'out-standalone')
    const r = await runCli(['--json', 'get', `hf://${REPO}`, '--include', '*.safetensors', '--exclude', 'bad.*', '--standalone', '--bootstrap', a.addresses[0], '-o', out],
      { env, timeoutMs: 90_000 })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    for (const f of wanted.filter(w => w.lfs)) expect(sha256Hex(await readFile(join(out, f.path))), f.path).toBe(sha256Hex(f.content))
    expect(JSON.parse(r.stdout).files).toHaveLength(2)
    expect(hub.cdn.bytesSent() - cdnBefore).toBe(0)
  })
})
