import type { Startable } from './types.js'

export function isStartable (obj: unknown): obj is Startable {
  return obj != null && typeof (obj as Startable).start === 'function' && typeof (obj as Startable).stop === 'function'
}

/** Starts in order; stops in reverse order, each even if an earlier one failed. */
export async function startAll (parts: unknown[]): Promise<void> {
  for (const p of parts) if (isStartable(p)) await p.start()
}

export async function stopAll (parts: unknown[]): Promise<void> {
  const errors: unknown[] = []
  for (const p of [...parts].reverse()) {
    if (!isStartable(p)) continue
    try { await p.stop() } catch (err) { errors.push(err) }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'errors while stopping')
}
