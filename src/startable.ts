import type { Startable } from './types.js'

export function isStartable (obj: unknown): obj is Startable {
  return obj != null && typeof (obj as Startable).start === 'function' && typeof (obj as Startable).stop === 'function'
}

/**
 * Starts in order. If one fails to start, stops those already started, in
 * reverse order, then rethrows its error (errors while stopping them are
 * dropped: the start failure is the one to report).
 */
export async function startAll (parts: unknown[]): Promise<void> {
  const started: Startable[] = []
  for (const p of parts) {
    if (!isStartable(p)) continue
    try {
      await p.start()
    } catch (err) {
      await stopAll(started).catch(() => {})
      throw err
    }
    started.push(p)
  }
}

/** Stops in reverse order, each even if an earlier one failed; throws an AggregateError of the failures. */
export async function stopAll (parts: unknown[]): Promise<void> {
  const errors: unknown[] = []
  for (const p of [...parts].reverse()) {
    if (!isStartable(p)) continue
    try { await p.stop() } catch (err) { errors.push(err) }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'errors while stopping')
}
