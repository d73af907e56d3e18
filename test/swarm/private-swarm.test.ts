/**
 * A private swarm (issue 9, docs/security.md "Private swarms") with real
 * daemon processes over loopback TCP, driven through the `starling` command:
 * two members holding the swarm key and on the allowlist; a node with no
 * key, one with the wrong key, and one with the right key but not on the
 * allowlist. Only the member gets the blob; the others never connect.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeDir, runCli, startDaemonProcess, tempDir, type DaemonProcess } from '../cli/helpers.js'

let dir: string
const daemons: DaemonProcess[] = []

/** Creates `<dataDir>/identity.key` ahead of the first start, so the allowlist can name the peer. */
async function identity (dataDir: string): Promise<string> {
  const key = await generateKeyPair('Ed25519')
  await mkdir(dataDir, { recursive: true })
  await writeFile(join(dataDir, 'identity.key'), privateKeyToProtobuf(key), { mode: 0o600 })
  return peerIdFromPrivateKey(key).toString()
}

async function peersOf (d: DaemonProcess): Promise<string[]> {
  const r = await runCli(['--api', d.api, '--json', 'peers'])
  expect(r.code).toBe(0)
  return (JSON.parse(r.stdout) as Array<{ id: string }>).map(p => p.id)
}

beforeAll(async () => {
  dir = await tempDir('starling-pnet-')
})

afterAll(async () => {
  await Promise.all(daemons.map(async d => await d.stop()))
  await removeDir(dir)
})

describe('starling keygen', () => {
  it('writes a swarm.key (pnet format) with mode 0600 and will not overwrite it', async () => {
    const file = join(dir, 'swarm.key')
    const r = await runCli(['keygen', file])
    expect(r.code).toBe(0)
    expect(await readFile(file, 'utf8')).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const again = await runCli(['keygen', file])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/exists: pass --force/)
    const stdout = await runCli(['keygen'])
    expect(stdout.stdout).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
  })

  it('a malformed key file stops the daemon with a config error naming it', async () => {
    const bad = join(dir, 'bad.key')
    await writeFile(bad, '/key/swarm/psk/1.0.0/\n/base16/\nnot-hex\n')
    await expect(startDaemonProcess(join(dir, 'bad'), ['--swarm-key', bad], 15_000)).rejects.toThrow(/swarmKey .*bad\.key: the key is not 64 hex digits/)
  })
})

describe('a keyed swarm with an allowlist', () => {
  let a: DaemonProcess, member: DaemonProcess, noKey: DaemonProcess, wrongKey: DaemonProcess, notListed: DaemonProcess
  let digest: string
  let bytes: Buffer

  it('starts: two members, and three nodes that should not get in', async () => {
    const key = join(dir, 'members.key')
    const otherKey = join(dir, 'other.key')
    expect((await runCli(['keygen', key])).code).toBe(0)
    expect((await runCli(['keygen', otherKey])).code).toBe(0)
    const ids = { a: await identity(join(dir, 'a')), member: await identity(join(dir, 'member')), notListed: await identity(join(dir, 'not-listed')) }
    const allow = join(dir, 'allow-peers')
    await writeFile(allow, `# the members\n${ids.a}\n${ids.member}  # the second one\n\n`)
    a = await startDaemonProcess(join(dir, 'a'), ['--swarm-key', key, '--allow-peers', allow])
    daemons.push(a)
    expect(a.peerId).toBe(ids.a)
    const boot = a.addresses[0]
    const started = await Promise.all([
      startDaemonProcess(join(dir, 'member'), ['--swarm-key', key, '--allow-peers', allow, '--bootstrap', boot]),
      startDaemonProcess(join(dir, 'no-key'), ['--bootstrap', boot]),
      startDaemonProcess(join(dir, 'wrong-key'), ['--swarm-key', otherKey, '--bootstrap', boot]),
      // The right key, but not on the list (and with no list of its own: it would dial anyone).
      startDaemonProcess(join(dir, 'not-listed'), ['--swarm-key', key, '--bootstrap', boot])
    ]);
    [member, noKey, wrongKey, notListed] = started
    daemons.push(...started)
    expect(notListed.peerId).toBe(ids.notListed)

    bytes = randomBytes(3 * 1024 * 1024 + 5)
    const file = join(dir, 'blob.bin')
    await writeFile(file, bytes)
    digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    const add = await runCli(['--api', a.api, 'add', file])
    expect(add.stderr).toBe('')
    expect(add.stdout.trim()).toBe(digest)
  })

  it('a member fetches the blob from the swarm, no origin', async () => {
    const out = join(dir, 'member.bin')
    const r = await runCli(['--api', member.api, '--json', 'get', digest, '-o', out], { timeoutMs: 60_000 })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect((await readFile(out)).equals(bytes)).toBe(true)
    expect(JSON.parse(r.stdout).bytesBySource.origin ?? 0).toBe(0)
  })

  it('no key, the wrong key, or not on the allowlist: no connection, no blob', async () => {
    const outsiders = [noKey, wrongKey, notListed]
    const runs = await Promise.all(outsiders.map(async (d, i) =>
      await runCli(['--api', d.api, 'get', digest, '-o', join(dir, `outsider-${i}.bin`)], { timeoutMs: 60_000 })))
    for (const r of runs) {
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/no peer holds/)
    }
    for (const d of outsiders) expect(await peersOf(d)).toEqual([])
    // The members see each other and no one else.
    expect(await peersOf(a)).toEqual([member.peerId])
    expect((await peersOf(member))).toEqual([a.peerId])
    for (let i = 0; i < outsiders.length; i++) await expect(readFile(join(dir, `outsider-${i}.bin`))).rejects.toThrow(/ENOENT/)
  })
})
