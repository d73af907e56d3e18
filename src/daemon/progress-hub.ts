import type { FetchProgressEvent } from '../api.js'

/** A fetch started through the API that failed after its body began: told to `starling get` so it can say why the body was cut. */
export interface FetchFailedEvent { type: 'starling:fetch:failed', detail: { digest: string, name: string, message: string } }
export type HubEvent = FetchProgressEvent | FetchFailedEvent
export type ProgressListener = (event: HubEvent) => void

/**
 * Fans the progress events of API-started fetches out to `/api/v1/events`
 * subscribers, keyed by digest, so `starling get` can show where bytes came
 * from while it reads the blob on another request.
 */
export interface ProgressHub {
  emit(digest: string, event: HubEvent): void
  subscribe(digest: string, listener: ProgressListener): () => void
  listeners(digest: string): number
}

export function createProgressHub (): ProgressHub {
  const subs = new Map<string, Set<ProgressListener>>()
  return {
    emit (digest, event) {
      for (const l of subs.get(digest) ?? []) {
        try { l(event) } catch {}
      }
    },
    subscribe (digest, listener) {
      let set = subs.get(digest)
      if (set == null) subs.set(digest, set = new Set())
      set.add(listener)
      return () => {
        set.delete(listener)
        if (set.size === 0 && subs.get(digest) === set) subs.delete(digest)
      }
    },
    listeners: (digest) => subs.get(digest)?.size ?? 0
  }
}
