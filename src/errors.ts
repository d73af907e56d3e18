/**
 * Errors are small classes told apart by `.name` (as in js-libp2p): callers
 * branch on `err.name`, never on message text. Keep the cause.
 */
function named (name: string): new (message?: string, options?: ErrorOptions) => Error {
  return class extends Error {
    static readonly NAME = name
    override readonly name = name
  }
}

/** A string that is not `sha256:<64 lowercase hex>` or a CID of that shape. */
export class InvalidDigestError extends named('InvalidDigestError') {}
/** The blob is not in the local store (and no fetch was asked for). */
export class NotFoundError extends named('NotFoundError') {}
/** Nobody holds the blob and there is no origin to fetch it from. */
export class NoSourceError extends named('NoSourceError') {}
/** Bytes whose sha256 does not match what was expected. */
export class DigestMismatchError extends named('DigestMismatchError') {}
/** The origin answered with an error status or could not be reached.
 * `status` is the HTTP status when there was one (404, 500...); `retryable`
 * says whether trying again later could help. */
export class OriginError extends named('OriginError') {
  readonly status?: number
  readonly retryable: boolean
  constructor (message: string, options: ErrorOptions & { status?: number, retryable?: boolean } = {}) {
    super(message, options)
    this.status = options.status
    this.retryable = options.retryable ?? false
  }
}
/** A peer broke the wire protocol or sent bytes that failed verification. */
export class ProtocolError extends named('ProtocolError') {}
/** A peer has no upload slot free right now: ask another peer, or this one
 * later. A ProtocolError (the request failed) with `busy` set, so callers
 * that only check for ProtocolError still move on. */
export class BusyError extends ProtocolError {
  static readonly NAME = 'BusyError'
  override readonly name = 'BusyError'
  readonly busy = true
}
/** Configuration that cannot be used; the message names the key. */
export class ConfigError extends named('ConfigError') {}
/** A request that the caller should not have made (bad range, bad size). */
export class InvalidRequestError extends named('InvalidRequestError') {}
/** The store has no room left for a blob, even after eviction. */
export class StoreFullError extends named('StoreFullError') {}
/** The operation was aborted by its signal. */
export class AbortError extends named('AbortError') {}
/** The node is not started (or already stopped). */
export class NotStartedError extends named('NotStartedError') {}
/** The caller may not read this content (registry access check). */
export class AccessDeniedError extends named('AccessDeniedError') {}

/** Throws the signal's reason (or an AbortError) when it has fired. */
export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) {
    const reason: unknown = signal.reason
    throw reason instanceof Error ? reason : new AbortError('aborted')
  }
}
