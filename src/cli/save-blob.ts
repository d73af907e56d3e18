import type { AtomicFile } from './atomic-file.js'
import { CliError } from './context.js'
import type { OpenedBlob } from './get-sources.js'
import type { Progress } from './progress.js'

/** Where `starling get` writes: an atomic file, or stdout. */
export type BlobSink = Pick<AtomicFile, 'write' | 'bytes' | 'commit'>

/**
 * Copies an opened blob into the sink, drawing progress; throws on a short
 * body (the daemon cuts the connection when a fetch fails after the headers).
 */
export async function copyBlob (opened: OpenedBlob, sink: BlobSink, bar: Progress, onChunk?: (chunk: Uint8Array) => void): Promise<void> {
  if (opened.size != null) bar.setTotal(opened.size)
  for await (const chunk of opened.body) {
    onChunk?.(chunk)
    await sink.write(chunk)
    bar.update(sink.bytes)
  }
  if (opened.size != null && sink.bytes !== opened.size) throw new CliError(`short read: got ${sink.bytes} of ${opened.size} bytes`)
}
