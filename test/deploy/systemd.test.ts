/**
 * deploy/systemd/starling.service checked by systemd's own tools
 * (docs/deploy.md#systemd): `systemd-analyze verify` must print nothing,
 * `systemd-analyze security --offline` must rate it at most 2.0 ("OK"), and
 * the config file it names must load with the environment it sets.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/daemon/config.js'
import { ROOT } from '../cli/helpers.js'
import { haveBinaries } from '../fixtures/registry.js'

const run = promisify(execFile)
const UNIT = join(ROOT, 'deploy', 'systemd', 'starling.service')
const CONFIG = join(ROOT, 'deploy', 'systemd', 'starling.yaml')
const INSTALLED_BIN = '/usr/local/bin/starling'
/** systemd-analyze security's exposure scale is 0-10 (lower is better); --threshold takes tenths. 2.0 is still "OK". */
const MAX_EXPOSURE_TENTHS = 20

const HAVE = haveBinaries('systemd-analyze')
if (!HAVE) console.log('test/deploy/systemd: skipped, systemd-analyze is not installed (Debian package systemd)')

interface Verdict { code: number, out: string }

async function analyze (args: string[]): Promise<Verdict> {
  try {
    const r = await run('systemd-analyze', args, { timeout: 60_000 })
    return { code: 0, out: (r.stdout + r.stderr).trim() }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() }
  }
}

describe.skipIf(!HAVE)('the systemd unit', () => {
  let dir: string
  let unit: string
  /** The unit as installed, except that ExecStart names this checkout's CLI: verify checks the binary exists and is executable. */
  const placed = (text: string): string => text.replaceAll(`${INSTALLED_BIN} `, `${join(ROOT, 'bin', 'starling.js')} `)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'starling-systemd-'))
    unit = await readFile(UNIT, 'utf8')
    expect(unit).toContain(`ExecStart=${INSTALLED_BIN} daemon --config /etc/starling/starling.yaml`)
  })

  afterAll(async () => { if (dir != null) await rm(dir, { recursive: true, force: true }) })

  it('systemd-analyze verify finds nothing to say', async () => {
    const file = join(dir, 'starling.service')
    await writeFile(file, placed(unit))
    const v = await analyze(['verify', file])
    expect(v, 'verify must exit 0 with no warnings').toEqual({ code: 0, out: '' })
  })

  it('the check can fail: a misspelt directive and a missing binary are reported', async () => {
    const file = join(dir, 'starling.service')
    await writeFile(file, placed(unit).replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'))
    expect((await analyze(['verify', file])).out).toMatch(/Unknown key 'NoNewPrivilege'/)
    await writeFile(file, unit.replaceAll(INSTALLED_BIN, join(dir, 'no-such-starling')))
    const missing = await analyze(['verify', file])
    expect(missing.code).not.toBe(0)
    expect(missing.out).toMatch(/no-such-starling.*(not executable|No such file)/)
  })

  it(`is hardened: systemd-analyze security rates its exposure at most ${MAX_EXPOSURE_TENTHS / 10}`, async () => {
    const file = join(dir, 'starling.service')
    await writeFile(file, placed(unit))
    const v = await analyze(['security', '--offline=true', `--threshold=${MAX_EXPOSURE_TENTHS}`, '--no-pager', file])
    const score = /Overall exposure level for starling\.service: ([\d.]+)/.exec(v.out)?.[1]
    console.log(`systemd-analyze security: exposure ${score ?? '?'}`)
    expect(score, v.out.slice(-2000)).toBeDefined()
    expect(v.code, v.out.slice(-2000)).toBe(0)
    expect(Number(score)).toBeLessThanOrEqual(MAX_EXPOSURE_TENTHS / 10)
  })

  it('its config file loads with the environment the unit sets', async () => {
    const env: NodeJS.ProcessEnv = {}
    for (const m of unit.matchAll(/^Environment=(\w+)=(.*)$/gm)) env[m[1]] = m[2]
    expect(unit).toMatch(/^StateDirectory=starling$/m)
    expect(unit).toMatch(/^RuntimeDirectory=starling$/m)
    const config = await loadConfig({ file: CONFIG, env })
    // The state and runtime folders systemd makes for the unit are the ones the daemon uses.
    expect(config.dataDir).toBe('/var/lib/starling')
    expect(config.runtimeDir).toBe('/run/starling')
    expect(config.registry?.listen).toBe('127.0.0.1:5050')
  })
})
