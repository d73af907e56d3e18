import type { Fetch, FetchOptions, FetchResult } from '../api.js'
import type { Download } from './download.js'

/**
 * What `node.fetch()` returns: iterate it for verified bytes in order, await
 * it for the final result. It holds one reference on the shared Download
 * until the download ends or this caller's signal fires, so one caller's
 * abort never fails the others (shared work tied to the first caller's signal would).
 */
export class FetchHandle implements Fetch {
  readonly digest: string
  readonly #download: Download
  readonly #options: FetchOptions
  readonly #startedAt = Date.now()
  #result?: Promise<FetchResult>

  constructor (download: Download, options: FetchOptions) {
    this.digest = download.digest
    this.#download = download
    this.#options = options
    const release = download.ref()
    const signal = options.signal
    if (signal != null) {
      if (signal.aborted) release()
      else signal.addEventListener('abort', release, { once: true })
      download.done.finally(() => { signal.removeEventListener('abort', release) }).catch(() => {})
    }
    download.done.finally(release).catch(() => {})
    if (options.onProgress != null) {
      const off = download.onProgress(options.onProgress)
      download.done.then(r => {
        options.onProgress?.({ type: 'starling:fetch:done', detail: this.#toResult(r) })
      }, () => {}).finally(off)
    }
  }

  #toResult (r: { digest: string, size: number, bytesBySource: FetchResult['bytesBySource'] }): FetchResult {
    return { digest: r.digest, size: r.size, bytesBySource: r.bytesBySource, durationMs: Date.now() - this.#startedAt }
  }

  #final (): Promise<FetchResult> {
    this.#result ??= (async () => {
      const signal = this.#options.signal
      const done = this.#download.done
      if (signal == null) return this.#toResult(await done)
      if (signal.aborted) throw signal.reason
      return await new Promise<FetchResult>((resolve, reject) => {
        const onAbort = (): void => { reject(signal.reason) }
        signal.addEventListener('abort', onAbort, { once: true })
        done.then(r => { resolve(this.#toResult(r)) }, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
      })
    })()
    return this.#result
  }

  then<T1 = FetchResult, T2 = never> (onfulfilled?: ((value: FetchResult) => T1 | PromiseLike<T1>) | null, onrejected?: ((reason: any) => T2 | PromiseLike<T2>) | null): Promise<T1 | T2> {
    return this.#final().then(onfulfilled, onrejected)
  }

  [Symbol.asyncIterator] (): AsyncIterator<Uint8Array> {
    return this.#download.read(this.#options.range, this.#options.signal, this.#options.reuseBuffer === true)[Symbol.asyncIterator]()
  }
}
