/**
 * Small types every layer shares. A leaf module: it imports nothing from the
 * project, so the store, origin, transfer, swarm and fetch layers use these
 * without importing the public facade (api.ts) or each other, the way
 * @libp2p/interface serves js-libp2p's modules. The public index re-exports
 * them.
 */

/** Options of any operation a caller may cancel. */
export interface AbortOptions {
  signal?: AbortSignal
}

/** The start/stop contract of every long-lived part (as in js-libp2p). */
export interface Startable {
  start(): Promise<void> | void
  stop(): Promise<void> | void
}

/** Minimal structured logger (pino-compatible); the library never prints by itself. */
export interface Logger {
  debug(obj: object | string, msg?: string): void
  info(obj: object | string, msg?: string): void
  warn(obj: object | string, msg?: string): void
  error(obj: object | string, msg?: string): void
  child?(bindings: Record<string, unknown>): Logger
}

/** Where a verified byte came from. */
export type ByteSource = 'origin' | 'peer-local' | 'peer-remote' | 'cache'

export type BytesBySource = Record<ByteSource, number>
