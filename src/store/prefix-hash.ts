import { Worker } from 'node:worker_threads'
import { digestFromBytes, type PieceMap } from '../content/index.js'
import type { Logger } from '../types.js'

/**
 * The whole-blob sha256 of a partial blob, computed while it downloads, on
 * a worker thread: each time the run of held pieces from piece 0 grows, the
 * worker reads the new bytes back from the partial file (they are in the
 * page cache) and feeds them to the blob's sha256 and the piece sha256s of
 * its piece map. `complete()` then only waits for the tail, where it used
 * to read and hash the whole file in a second pass on the event loop
 * (bench/p2p: 0.9 s of the receiver's main thread per 512 MiB, while the
 * second core idled; docs/throughput.md).
 *
 * The bytes hashed are the bytes on disk, read after each piece was written
 * and checked, exactly as the second pass read them: the trust rule is
 * unchanged. When a held piece is dropped (a whole-blob mismatch) the job is
 * thrown away and the next one starts again from piece 0.
 */
export interface PrefixHasher {
  /** Bytes [0, upTo) of the file at `path` are final: hash what is new. */
  advance: (job: number, path: string, pieceSize: number, upTo: number) => void
  /** Hashes up to `size` and returns the piece map of what the file holds (undefined: no worker, hash it yourself). */
  finish: (job: number, path: string, pieceSize: number, size: number) => Promise<PieceMap | undefined>
  /** Forgets a job (its prefix is no longer valid). */
  drop: (job: number) => void
  close: () => Promise<void>
}

/**
 * The worker's code, plain JavaScript (it runs as is from `src/` under
 * vitest and from `dist/`): one job per partial blob, messages handled in
 * order, so a `finish` sees every `advance` sent before it.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const { openSync, readSync, closeSync } = require('node:fs')
const CHUNK = workerData.chunk
const buf = Buffer.allocUnsafe(CHUNK)
const jobs = new Map()
function hashTo (job, m, upTo) {
  let j = jobs.get(job)
  if (j == null) {
    j = { pos: 0, whole: createHash('sha256'), piece: createHash('sha256'), inPiece: 0, digests: [], fd: openSync(m.path, 'r'), pieceSize: m.pieceSize }
    jobs.set(job, j)
  }
  while (j.pos < upTo) {
    const want = Math.min(CHUNK, upTo - j.pos)
    const got = readSync(j.fd, buf, 0, want, j.pos)
    if (got === 0) throw new Error('partial file shorter than ' + upTo)
    const chunk = buf.subarray(0, got)
    j.whole.update(chunk)
    let off = 0
    while (off < got) {
      const take = Math.min(j.pieceSize - j.inPiece, got - off)
      j.piece.update(chunk.subarray(off, off + take))
      j.inPiece += take
      off += take
      if (j.inPiece === j.pieceSize) endPiece(j)
    }
    j.pos += got
  }
  return j
}
function endPiece (j) { j.digests.push(j.piece.digest()); j.piece = createHash('sha256'); j.inPiece = 0 }
function drop (job) { const j = jobs.get(job); if (j != null) { jobs.delete(job); try { closeSync(j.fd) } catch {} } }
parentPort.on('message', (m) => {
  try {
    if (m.op === 'advance') { hashTo(m.job, m, m.upTo); return }
    if (m.op === 'drop') { drop(m.job); return }
    if (m.op === 'finish') {
      const j = hashTo(m.job, m, m.size)
      if (j.inPiece > 0) endPiece(j)
      const out = { id: m.id, digest: j.whole.digest(), size: j.pos, pieceDigests: j.digests }
      drop(m.job)
      parentPort.postMessage(out)
    }
  } catch (err) {
    drop(m.job)
    if (m.op === 'finish') parentPort.postMessage({ id: m.id, error: String(err && err.message || err) })
    else jobs.set(m.job, { failed: true, pos: Infinity })
  }
})
`

/** The worker could not hash a job: the caller falls back to hashing the file itself. */
export class PrefixHashError extends Error {
  override name = 'PrefixHashError'
}

/** Bytes the worker reads at a time, by default: big reads keep syscalls from being the cost (sha256 runs at ~1.6 GB/s here). */
export const DEFAULT_HASH_CHUNK = 4 * 1024 * 1024

export interface PrefixHasherInit {
  /** Bytes read at a time (DEFAULT_HASH_CHUNK). */
  chunk?: number
  /** The worker's V8 heap limits (Node's defaults when undefined: the worker then reserves as a main thread would). */
  resourceLimits?: { maxOldGenerationSizeMb: number, maxYoungGenerationSizeMb: number }
}

export function createPrefixHasher (log?: Logger, init: PrefixHasherInit = {}): PrefixHasher {
  let worker: Worker | undefined
  let broken = false
  let nextId = 1
  const waiting = new Map<number, { resolve: (m: PieceMap | undefined) => void, reject: (e: Error) => void }>()

  const get = (): Worker | undefined => {
    if (broken) return undefined
    if (worker != null) return worker
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { chunk: init.chunk ?? DEFAULT_HASH_CHUNK }, ...(init.resourceLimits != null ? { resourceLimits: init.resourceLimits } : {}) })
      w.unref() // an idle hasher never keeps a process alive
      w.on('message', (m: { id: number, error?: string, digest?: Uint8Array, size?: number, pieceDigests?: Uint8Array[] }) => {
        const p = waiting.get(m.id)
        if (p == null) return
        waiting.delete(m.id)
        if (m.error != null) { p.reject(new PrefixHashError(m.error)); return }
        p.resolve({ digest: digestFromBytes(new Uint8Array(m.digest as Uint8Array)).digest, size: m.size as number, pieceSize: 0, pieceDigests: (m.pieceDigests as Uint8Array[]).map(d => new Uint8Array(d)) })
      })
      w.on('error', (err) => {
        log?.warn({ err }, 'store: hash worker failed; hashing on the main thread from now on')
        broken = true
        worker = undefined
        for (const p of waiting.values()) p.resolve(undefined)
        waiting.clear()
      })
      worker = w
      return w
    } catch (err) {
      log?.warn({ err }, 'store: no hash worker; hashing on the main thread')
      broken = true
      return undefined
    }
  }

  return {
    advance (job, path, pieceSize, upTo) {
      get()?.postMessage({ op: 'advance', job, path, pieceSize, upTo })
    },
    async finish (job, path, pieceSize, size) {
      const w = get()
      if (w == null) return undefined
      const id = nextId++
      const map = await new Promise<PieceMap | undefined>((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        w.ref() // a finish is awaited: keep the process up for its answer
        w.postMessage({ op: 'finish', id, job, path, pieceSize, size })
      }).finally(() => { if (waiting.size === 0) worker?.unref() })
      return map == null ? undefined : { ...map, pieceSize }
    },
    drop (job) {
      worker?.postMessage({ op: 'drop', job })
    },
    async close () {
      const w = worker
      worker = undefined
      for (const p of waiting.values()) p.resolve(undefined)
      waiting.clear()
      await w?.terminate()
    }
  }
}
