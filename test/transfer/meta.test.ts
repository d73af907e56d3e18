import { afterEach, describe, expect, it } from 'vitest'
import { Bitfield, equalBytes } from '../../src/content/index.js'
import { ProtocolError } from '../../src/errors.js'
import { validateMeta } from '../../src/transfer/index.js'
import { validateInterest } from '../../src/transfer/meta.js'
import { MetaResponse } from '../../src/transfer/pb/meta.js'
import { createPair, fakeLocalBlobs, makeBlob, type Pair } from './helpers.js'

const DIGEST = 'sha256:' + 'ab'.repeat(32)

describe('meta protocol over libp2p', () => {
  let pair: Pair | undefined
  afterEach(async () => { await pair?.stop(); pair = undefined })

  it('answers OK with the piece map, have-set and location', async () => {
    const blob = makeBlob(5 * 65536 + 123, 65536)
    pair = await createPair(fakeLocalBlobs([blob]))
    const meta = await pair.transfer.meta(pair.server.peerId, blob.digest)
    expect(meta).toBeDefined()
    expect(meta?.digest).toBe(blob.digest)
    expect(meta?.size).toBe(blob.size)
    expect(meta?.pieceSize).toBe(65536)
    expect(meta?.complete).toBe(true)
    expect(meta?.location).toBe('dc-test')
    expect(meta?.have.length).toBe(6)
    expect(meta?.have.full).toBe(true)
    expect(meta?.pieceDigests.length).toBe(6)
    meta?.pieceDigests.forEach((d, i) => { expect(equalBytes(d as Uint8Array, blob.pieceDigests[i])).toBe(true) })
  })

  it('answers undefined for a blob the peer does not know', async () => {
    pair = await createPair(fakeLocalBlobs([]))
    expect(await pair.transfer.meta(pair.server.peerId, DIGEST)).toBeUndefined()
  })

  it('rejects with ProtocolError when the peer fails to read its store', async () => {
    const local = fakeLocalBlobs([])
    local.meta = async () => { throw new Error('disk on fire') }
    pair = await createPair(local)
    await expect(pair.transfer.meta(pair.server.peerId, DIGEST)).rejects.toMatchObject({ name: 'ProtocolError' })
  })

  it('rejects a partial have-set and unknown digests only where they are allowed', async () => {
    const blob = makeBlob(4 * 65536, 65536)
    const local = fakeLocalBlobs([blob])
    local.meta = async (digest) => {
      const have = new Bitfield(4)
      have.set(2)
      return { digest, size: blob.size, pieceSize: blob.pieceSize, complete: false, have, pieceDigests: [undefined, undefined, blob.pieceDigests[2], undefined] }
    }
    pair = await createPair(local)
    const meta = await pair.transfer.meta(pair.server.peerId, blob.digest)
    expect(meta?.complete).toBe(false)
    expect([...(meta?.have.indexes() ?? [])]).toEqual([2])
    expect(meta?.pieceDigests.map(d => d == null)).toEqual([true, true, false, true])
  })
})

describe('validateMeta', () => {
  const good = (): MetaResponse => ({
    status: MetaResponse.Status.OK,
    size: 3n * 65536n,
    pieceSize: 65536,
    complete: true,
    have: new Uint8Array([0xe0]),
    pieceDigests: [new Uint8Array(32), new Uint8Array(32), new Uint8Array(32)],
    location: '',
    wants: false,
    hasOrigin: false,
    fetching: [],
    peers: [],
    interested: 0,
    running: 0
  })

  it('accepts a well-formed answer', () => {
    expect(validateMeta(DIGEST, good())?.have.count).toBe(3)
  })

  const bad: Array<[string, (m: MetaResponse) => void]> = [
    ['piece size not a power of two', m => { m.pieceSize = 65535 }],
    ['piece size zero', m => { m.pieceSize = 0 }],
    ['piece size beyond the cap', m => { m.pieceSize = 2 ** 30; m.size = 3n * 2n ** 30n }],
    ['too few piece digests', m => { m.pieceDigests.pop() }],
    ['too many piece digests', m => { m.pieceDigests.push(new Uint8Array(32)) }],
    ['a 31-byte piece digest', m => { m.pieceDigests[1] = new Uint8Array(31) }],
    ['a bitfield of the wrong length', m => { m.have = new Uint8Array(2) }],
    ['complete without every piece', m => { m.have = new Uint8Array([0xc0]) }],
    ['complete without every digest', m => { m.pieceDigests[0] = new Uint8Array(0) }],
    ['an unsafe size', m => { m.size = 2n ** 60n }],
    ['an unspecified status', m => { m.status = MetaResponse.Status.UNSPECIFIED }],
    ['a huge location label', m => { m.location = 'x'.repeat(10_000) }]
  ]
  for (const [what, mutate] of bad) {
    it(`rejects ${what}`, () => {
      const m = good()
      mutate(m)
      expect(() => validateMeta(DIGEST, m)).toThrow(ProtocolError)
    })
  }

  it('returns undefined for NOT_FOUND', () => {
    expect(validateMeta(DIGEST, { ...good(), status: MetaResponse.Status.NOT_FOUND })).toBeUndefined()
  })
})

describe('validateInterest: the peer exchange (r3)', () => {
  const answer = (peers: Uint8Array[], interested = peers.length): MetaResponse => ({
    status: MetaResponse.Status.NOT_FOUND, size: 0n, pieceSize: 0, complete: false, have: new Uint8Array(0), pieceDigests: [], location: 'dc1', wants: true, hasOrigin: true, fetching: [], peers: peers as Array<Uint8Array<ArrayBuffer>>, interested, running: 0
  })

  it('decodes the named peers and the count; an entry that is no peer id is skipped', async () => {
    const { generateKeyPair } = await import('@libp2p/crypto/keys')
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    const ids = await Promise.all([1, 2].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
    const got = validateInterest(answer([ids[0].toMultihash().bytes, new Uint8Array([1, 2, 3]), ids[1].toMultihash().bytes, new Uint8Array(100)], 40), undefined)
    expect(got?.peers).toEqual([ids[0].toString(), ids[1].toString()])
    expect(got?.interested).toBe(40)
  })

  it('more than 32 named peers is a protocol error', () => {
    expect(() => validateInterest(answer(Array.from({ length: 33 }, () => new Uint8Array(38))), undefined)).toThrow(ProtocolError)
  })
})

describe('validateInterest: running origin requests (r4)', () => {
  const answer = (fetching: number[], running: number): MetaResponse => ({
    status: MetaResponse.Status.OK, size: 4096n, pieceSize: 1024, complete: false, have: new Uint8Array(1), pieceDigests: [], location: '', wants: true, hasOrigin: true, fetching, peers: [], interested: 0, running
  })
  const meta = { size: 4096, pieceSize: 1024 } as any

  it('counts the running requests among the claims, after claims past the piece count are dropped', () => {
    expect(validateInterest(answer([2, 9, 1, 3], 2), meta)?.running).toBe(1)
    expect(validateInterest(answer([2, 1, 3], 2), meta)).toMatchObject({ fetching: [2, 1, 3], running: 2 })
  })

  it('more running than claimed is a malformed answer', () => {
    expect(() => validateInterest(answer([1], 2), meta)).toThrow(/running/)
  })
})
