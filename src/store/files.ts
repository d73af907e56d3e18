import { createReadStream } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { PieceMapBuilder, type PieceMap } from '../content/index.js'
import { StoreFullError, throwIfAborted } from '../errors.js'

/** Large reads: sha256 runs at ~1.6 GB/s here, small chunks would make syscalls the cost. */
export const READ_CHUNK = 4 * 1024 * 1024

export class Layout {
  readonly index: string
  readonly partialDir: string
  readonly blobsDir: string
  readonly tmp: string

  constructor (readonly dir: string) {
    this.index = join(dir, 'index')
    this.partialDir = join(dir, 'partial')
    this.blobsDir = join(dir, 'blobs', 'sha256')
    this.tmp = join(dir, 'tmp')
  }

  partial (hex: string): string { return join(this.partialDir, hex) }
  blobDir (hex: string): string { return join(this.blobsDir, hex.slice(0, 2)) }
  blob (hex: string): string { return join(this.blobsDir, hex.slice(0, 2), hex) }
}

/** Streams a file through a PieceMapBuilder: the blob is never in memory. */
export async function hashFile (path: string, pieceSize: number, options: { signal?: AbortSignal } = {}): Promise<PieceMap> {
  const builder = new PieceMapBuilder(pieceSize)
  const stream = createReadStream(path, { highWaterMark: READ_CHUNK, signal: options.signal })
  for await (const chunk of stream) builder.update(chunk as Buffer)
  throwIfAborted(options.signal)
  return builder.finish()
}

/** fsync of a folder makes a rename or unlink in it durable. */
export async function fsyncDir (path: string): Promise<void> {
  const fh = await open(path, 'r')
  try { await fh.sync() } finally { await fh.close() }
}

export function isEnospc (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

/** Maps a full disk to StoreFullError so callers branch on one name. */
export function mapFsError (err: unknown, what: string): unknown {
  return isEnospc(err) ? new StoreFullError(`no space left on disk while ${what}`, { cause: err }) : err
}

export function isMissing (err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT'
}

/** Reads exactly `length` bytes at `position` (a short read means the file is shorter). */
export async function readAt (fh: FileHandle, position: number, length: number): Promise<Uint8Array> {
  // not from Buffer's shared pool: the piece may be held long after this call
  const buf = Buffer.allocUnsafeSlow(length)
  let got = 0
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, got)
}

/** Writes all of `bytes` at `position` (positional writes of one file may run in parallel). */
export async function writeAt (fh: FileHandle, position: number, bytes: Uint8Array): Promise<void> {
  let done = 0
  while (done < bytes.byteLength) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done, position + done)
    done += bytesWritten
  }
}
