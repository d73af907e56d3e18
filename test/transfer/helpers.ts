import { randomBytes } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p } from 'libp2p'
import { Bitfield, digestFromBytes, pieceCount, sha256 } from '../../src/content/index.js'
import { createTransferClient, createTransferServer, type TransferServer, type TransferServerInit, type TransferClientInit } from '../../src/transfer/index.js'
import type { LocalBlobs, TransferClient } from '../../src/transfer/index.js'

export interface FakeBlob {
  digest: string
  size: number
  pieceSize: number
  bytes: Uint8Array
  pieceDigests: Uint8Array[]
}

/** Random bytes, cut into pieces, with the digests a real store would record. */
export function makeBlob (size: number, pieceSize: number): FakeBlob {
  const bytes = new Uint8Array(randomBytes(size))
  const n = pieceCount(size, pieceSize)
  const pieceDigests: Uint8Array[] = []
  for (let i = 0; i < n; i++) pieceDigests.push(sha256(piece({ bytes, pieceSize }, i)))
  return { digest: digestFromBytes(sha256(bytes)).digest, size, pieceSize, bytes, pieceDigests }
}

export function piece (blob: Pick<FakeBlob, 'bytes' | 'pieceSize'>, i: number): Uint8Array {
  return blob.bytes.subarray(i * blob.pieceSize, Math.min((i + 1) * blob.pieceSize, blob.bytes.length))
}

export type ReadHook = (index: number, data: Uint8Array, signal?: AbortSignal) => Promise<Uint8Array | undefined>

/** An in-memory LocalBlobs holding whole blobs; `hook` may delay or alter reads. */
export function fakeLocalBlobs (blobs: FakeBlob[], hook?: ReadHook): LocalBlobs & { reads: number } {
  const byDigest = new Map(blobs.map(b => [b.digest, b]))
  const local = {
    reads: 0,
    async meta (digest: string) {
      const b = byDigest.get(digest)
      if (b == null) return undefined
      const have = new Bitfield(b.pieceDigests.length)
      have.setAll()
      return { digest, size: b.size, pieceSize: b.pieceSize, complete: true, have, pieceDigests: b.pieceDigests }
    },
    /** The hook sees (and may replace) the whole piece once, when the server opens it. */
    async openPiece (digest: string, index: number, options: { signal?: AbortSignal } = {}) {
      const b = byDigest.get(digest)
      if (b == null || index >= b.pieceDigests.length) return undefined
      local.reads++
      const whole = piece(b, index)
      const data = hook != null ? await hook(index, whole, options.signal) : whole
      if (data == null) return undefined
      return { length: data.byteLength, read: async (offset: number, length: number) => data.subarray(offset, offset + length) }
    }
  }
  return local
}

export async function createTestNode (): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8'] },
    services: { identify: identify() }
  })
  return node
}

export interface Pair {
  server: Libp2p
  client: Libp2p
  transferServer: TransferServer
  transfer: TransferClient
  stop: () => Promise<void>
}

/** Two connected nodes: one serves `local`, the other has a client. */
export async function createPair (local: LocalBlobs, serverInit: TransferServerInit = {}, clientInit: TransferClientInit = {}): Promise<Pair> {
  const server = await createTestNode()
  const client = await createTestNode()
  const transferServer = createTransferServer({ registrar: server, localBlobs: local, location: () => 'dc-test' }, serverInit)
  await transferServer.start()
  await client.dial(server.getMultiaddrs()[0])
  const transfer = createTransferClient({ dialProtocol: client.dialProtocol.bind(client) }, clientInit)
  return {
    server,
    client,
    transferServer,
    transfer,
    stop: async () => {
      await transferServer.stop()
      await Promise.all([client.stop(), server.stop()])
    }
  }
}

export function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>(r => { resolve = r })
  return { promise, resolve }
}
