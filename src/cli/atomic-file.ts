import { createHash, randomBytes } from 'node:crypto'
import { open, rename, rm, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { CliError } from './context.js'

/**
 * Writes a download next to its target and renames it into place only after
 * every byte is on disk and the sha256 matches, so a reader of FILE sees the
 * old file or the whole new one, never a torn or unverified one.
 */
export interface AtomicFile {
  write(chunk: Uint8Array): Promise<void>
  readonly bytes: number
  /** Verifies (when `expected` is given), fsyncs, renames; returns the sha256 digest. */
  commit(expected?: string): Promise<string>
  abort(): Promise<void>
}

export async function createAtomicFile (target: string): Promise<AtomicFile> {
  const tmp = join(dirname(target), `.${basename(target)}.starling-${randomBytes(4).toString('hex')}.tmp`)
  let fh: FileHandle | undefined = await open(tmp, 'wx', 0o644).catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot write in ${dirname(target)}: ${err.code ?? err.message}`)
  })
  const hash = createHash('sha256')
  let bytes = 0
  async function abort (): Promise<void> {
    await fh?.close().catch(() => {})
    fh = undefined
    await rm(tmp, { force: true })
  }
  return {
    get bytes () { return bytes },
    async write (chunk) {
      hash.update(chunk)
      bytes += chunk.byteLength
      let off = 0
      while (off < chunk.byteLength) off += (await fh!.write(chunk, off)).bytesWritten
    },
    async commit (expected) {
      const digest = `sha256:${hash.digest('hex')}`
      if (expected != null && digest !== expected) {
        await abort()
        throw new CliError(`digest mismatch: expected ${expected}, got ${digest} (${bytes} bytes); nothing written`)
      }
      await fh!.sync()
      await fh!.close()
      fh = undefined
      await rename(tmp, target)
      return digest
    },
    abort
  }
}
