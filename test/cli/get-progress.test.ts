/**
 * `starling get URL` without `--digest` (issue #13's CLI polish), against a
 * real daemon and a local origin: the bytes are the origin's in the final
 * summary (they were reported as "cache 100%", since the daemon imports the
 * URL first and the blob is then read back from its cache), the status line
 * shows the download with its size (it showed `? 0 B/?`), and under a
 * narrow pseudo-terminal no status frame is wider than the terminal.
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOriginServer, type OriginServer } from '../fixtures/origin-server.js'
import { BIN, removeDir, runCli, startDaemonProcess, tempDir, type DaemonProcess } from './helpers.js'

const MiB = 1024 * 1024
const SIZE = 4 * MiB
/** Narrower than the full status line (~95 columns), so it must be fitted. */
const COLUMNS = 60
const bytes = randomBytes(SIZE)
const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
let dir: string
let origin: OriginServer
let daemon: DaemonProcess

beforeAll(async () => {
  dir = await tempDir()
  // Capped, so the download spans several redraws of the bar.
  origin = await startOriginServer({ files: { '/a.bin': bytes, '/b.bin': bytes, '/c.bin': bytes }, rateBytesPerSec: 4 * MiB })
  daemon = await startDaemonProcess(join(dir, 'd'))
})

afterAll(async () => {
  await daemon?.stop()
  await origin?.close()
  await removeDir(dir)
})

/** Runs the CLI under a pseudo-terminal COLUMNS wide; returns what it drew on the terminal. */
async function onTerminal (args: string[]): Promise<string> {
  const cmd = `stty cols ${COLUMNS}; ${process.execPath} ${BIN} ${args.join(' ')}`
  return await new Promise<string>((resolve, reject) => {
    execFile('script', ['-qfec', cmd, '/dev/null'], { timeout: 90_000 }, (err, stdout) => { if (err != null) reject(new Error(`${err.message}\n${stdout}`)); else resolve(stdout) })
  })
}

/** The status frames: cli-progress redraws each at column 1 (ESC[1G) and clears the rest (ESC[0K). */
function frames (tty: string): string[] {
  // eslint-disable-next-line no-control-regex
  return tty.split('\x1b[1G').slice(1).map(f => f.split('\x1b[0K')[0])
}

describe('starling get URL without --digest, through the daemon', () => {
  it('--json: the bytes are the origin\'s, not the cache\'s', async () => {
    const out = join(dir, 'a.out')
    const r = await runCli(['--api', daemon.api, '--json', 'get', `${origin.url}/a.bin`, '-o', out], { timeoutMs: 90_000 })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const res = JSON.parse(r.stdout)
    expect(res.digest).toBe(digest)
    expect(res.bytesBySource).toEqual({ origin: SIZE, 'peer-local': 0, 'peer-remote': 0, cache: 0 })
    expect((await readFile(out)).equals(bytes)).toBe(true)
  })

  it('on a terminal: the bar shows the download with its size, the summary says origin 100%, no frame is wider than the terminal', async () => {
    const out = join(dir, 'b.out')
    const tty = await onTerminal(['--api', daemon.api, 'get', `${origin.url}/b.bin`, '-o', out])
    const all = frames(tty)
    expect(all.length, tty).toBeGreaterThan(0)
    for (const f of all) expect([...f].length, `frame wider than ${COLUMNS - 1}: ${JSON.stringify(f)}`).toBeLessThanOrEqual(COLUMNS - 1)
    const downloading = all.filter(f => f.startsWith('download '))
    expect(downloading.length, tty).toBeGreaterThan(0)
    // the size is known from the first frame: never `? 0 B/?`
    for (const f of downloading) expect(f).toMatch(/\/4\.00 MiB/)
    expect(all.some(f => f.includes('?'))).toBe(false)
    const summary = tty.split('\n').find(l => l.includes(digest))
    expect(summary, tty).toBeDefined()
    expect(summary).toContain('origin 100%')
    expect(summary).not.toContain('cache')
    expect((await readFile(out)).equals(bytes)).toBe(true)
  })
})

describe('starling get URL without --digest, --standalone', () => {
  it('--json: the bytes are the origin\'s', async () => {
    const out = join(dir, 'c.out')
    const r = await runCli(['--json', 'get', `${origin.url}/c.bin`, '--standalone', '-o', out], { timeoutMs: 90_000 })
    expect(r.code, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout)
    expect(res.digest).toBe(digest)
    expect(res.bytesBySource.origin).toBe(SIZE)
    expect(res.bytesBySource.cache).toBe(0)
  })
})
