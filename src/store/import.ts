import { randomBytes } from 'node:crypto'
import { open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { choosePieceSize, MIN_PIECE_SIZE, PieceMapBuilder, type PieceMap } from '../content/index.js'
import { StoreFullError, throwIfAborted } from '../errors.js'
import { hashFile, mapFsError, writeAt } from './files.js'

/**
 * Streams `source` into a temp file while hashing, holding only the current
 * chunk. The piece size depends on the size, which is known only at the end:
 * the first pass builds 1 MiB pieces (right for every blob up to 512 MiB, so
 * most imports read their bytes once); a larger blob gets a second streaming
 * pass over the temp file with its own piece size.
 *
 * `maxBytes` stops early a source that could never fit the quota.
 * Returns the temp path (the caller renames or removes it).
 */
export async function importToTemp (tmpDir: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, maxBytes: number, options: { signal?: AbortSignal, expectedDigest?: string } = {}): Promise<{ path: string, map: PieceMap }> {
  const path = join(tmpDir, `import-${randomBytes(8).toString('hex')}`)
  const builder = new PieceMapBuilder(MIN_PIECE_SIZE)
  try {
    const fh = await open(path, 'w')
    try {
      for await (const chunk of source) {
        throwIfAborted(options.signal)
        if (builder.size + chunk.byteLength > maxBytes) {
          throw new StoreFullError(`import is larger than the store quota of ${maxBytes} bytes`)
        }
        await writeAt(fh, builder.size, chunk)
        builder.update(chunk)
      }
      await fh.sync()
    } finally {
      await fh.close()
    }
    let map = builder.finish(options.expectedDigest)
    const pieceSize = choosePieceSize(map.size)
    if (pieceSize !== map.pieceSize) map = await hashFile(path, pieceSize, options)
    return { path, map }
  } catch (err) {
    await rm(path, { force: true })
    throw mapFsError(err, 'importing')
  }
}
