import { open, readdir, rm, stat } from 'node:fs/promises'
import { Bitfield, equalBytes, pieceCount, pieceLength, pieceRange, sha256 } from '../content/index.js'
import type { Logger } from '../types.js'
import { nextUse, seedRecency } from './common.js'
import { IndexDb, type BlobRecord, type IndexOp } from './index-db.js'
import { hashFile, isMissing, readAt, type Layout } from './files.js'

/** A blob as the store holds it in memory (level is the durable copy). */
export interface Entry {
  rec: BlobRecord
  /** Held pieces (all set for a complete blob). */
  held: Bitfield
  /** Recorded digests of held pieces of a partial blob. */
  digests: Array<Uint8Array | undefined>
  /** Bytes of held pieces (the size once complete). */
  heldBytes: number
  /** Position in the LRU order (common.ts nextUse): higher is more recent. In memory only. */
  recency: number
}

/**
 * After a whole-blob mismatch: forgets the held pieces with no recorded
 * digest (written provisional), keeps the trusted ones. Returns the bytes
 * forgotten (0: every held piece was trusted).
 */
export function forgetUntrusted (e: Entry): number {
  let bytes = 0
  for (const i of [...e.held.indexes()]) {
    if (e.digests[i] != null) continue
    e.held.unset(i)
    bytes += pieceLength(e.rec.size, e.rec.pieceSize, i)
  }
  e.heldBytes -= bytes
  return bytes
}

export function newEntry (rec: BlobRecord): Entry {
  const n = pieceCount(rec.size, rec.pieceSize)
  const held = new Bitfield(n)
  if (rec.complete) held.setAll()
  return { rec, held, digests: new Array(n).fill(undefined), heldBytes: rec.complete ? rec.size : 0, recency: nextUse() }
}

/**
 * Loads the index and makes it agree with the files: complete blobs whose
 * file vanished are forgotten; every recorded piece of a partial blob is
 * re-hashed from its file and dropped if it no longer matches (a torn write,
 * a crash between write and fsync, or a disk that lied); partial files with
 * no record, and blob files with no complete record, are removed.
 */
export async function loadEntries (layout: Layout, db: IndexDb, log?: Logger): Promise<Map<string, Entry>> {
  const entries = new Map<string, Entry>()
  const ops: IndexOp[] = []
  for await (const [hex, rec] of db.records()) entries.set(hex, newEntry(rec))
  const recorded = new Map<string, Array<{ index: number, digest: Uint8Array }>>()
  for await (const p of db.pieces()) {
    const e = entries.get(p.hex)
    if (e == null || e.rec.complete || p.index >= e.held.length) { ops.push(IndexDb.delPiece(p.hex, p.index)); continue }
    const list = recorded.get(p.hex) ?? []
    list.push({ index: p.index, digest: p.digest })
    recorded.set(p.hex, list)
  }
  for (const [hex, e] of entries) {
    if (e.rec.complete) {
      const size = await fileSize(layout.blob(hex))
      if (size !== e.rec.size) {
        log?.warn({ digest: `sha256:${hex}`, size }, 'complete blob file missing or wrong size: forgetting it')
        entries.delete(hex)
        ops.push(IndexDb.delRecord(hex), IndexDb.delMap(hex))
      }
      continue
    }
    await recoverPartial(layout, hex, e, recorded.get(hex) ?? [], ops, log)
  }
  for (const name of await readdir(layout.partialDir)) {
    const e = entries.get(name)
    if (e == null || e.rec.complete) await rm(layout.partial(name), { force: true })
  }
  // an import or complete() that crashed between its rename and its index write
  for (const sub of await readdir(layout.blobsDir)) {
    for (const name of await readdir(`${layout.blobsDir}/${sub}`)) {
      if (entries.get(name)?.rec.complete !== true) await rm(layout.blob(name), { force: true })
    }
  }
  await db.write(ops)
  seedRecency(entries.values())
  return entries
}

async function recoverPartial (layout: Layout, hex: string, e: Entry, pieces: Array<{ index: number, digest: Uint8Array }>, ops: IndexOp[], log?: Logger): Promise<void> {
  const path = layout.partial(hex)
  if (await fileSize(path) == null) {
    for (const p of pieces) ops.push(IndexDb.delPiece(hex, p.index))
    // a crash after complete() renamed the file but before the index said so
    if (await fileSize(layout.blob(hex)) === e.rec.size) {
      const map = await hashFile(layout.blob(hex), e.rec.pieceSize)
      if (map.digest === `sha256:${hex}`) {
        e.rec = { ...e.rec, complete: true }
        e.held.setAll()
        e.heldBytes = e.rec.size
        ops.push(IndexDb.putRecord(hex, e.rec), IndexDb.putMap(hex, map))
        return
      }
      await rm(layout.blob(hex), { force: true })
    }
    const fh = await open(path, 'w')
    try { await fh.truncate(e.rec.size) } finally { await fh.close() }
    return
  }
  const fh = await open(path, 'r+')
  try {
    const st = await fh.stat()
    if (st.size !== e.rec.size) await fh.truncate(e.rec.size)
    let dropped = 0
    for (const p of pieces) {
      const { start, end } = pieceRange(e.rec.size, e.rec.pieceSize, p.index)
      const bytes = await readAt(fh, start, end - start)
      if (bytes.byteLength === end - start && equalBytes(sha256(bytes), p.digest)) {
        e.held.set(p.index)
        e.digests[p.index] = p.digest
        e.heldBytes += end - start
      } else {
        dropped++
        ops.push(IndexDb.delPiece(hex, p.index))
      }
    }
    if (dropped > 0) log?.warn({ digest: `sha256:${hex}`, dropped }, 'dropped partial pieces that failed re-verification')
  } finally {
    await fh.close()
  }
}

async function fileSize (path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
}
