import { AbortError, ProtocolError } from '../errors.js'
import { ioTimeoutSignal } from '../utils/io-timeout.js'

/** The caller's signal, or-ed with a timeout so no request can hang forever. */
export function withTimeout (signal: AbortSignal | undefined, ms: number): AbortSignal {
  const t = ioTimeoutSignal(ms)
  return signal == null ? t : AbortSignal.any([signal, t])
}

/**
 * What a failed request rejects with: the caller's own abort reason when the
 * caller aborted (so it can tell "I gave up" from "the peer failed"), else a
 * ProtocolError keeping the cause. Named errors we threw ourselves pass through.
 */
export function toProtocolError (err: unknown, callerSignal: AbortSignal | undefined, message: string): Error {
  if (callerSignal?.aborted === true) {
    const reason: unknown = callerSignal.reason
    return reason instanceof Error ? reason : new AbortError('aborted')
  }
  if (err instanceof ProtocolError) return err
  return new ProtocolError(`${message}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}
