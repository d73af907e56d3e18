/**
 * Timeouts that judge the other side, not our own event loop.
 *
 * Node runs expired timers before it polls for I/O. A process that was
 * starved of CPU for longer than a timeout — 50 nodes on 2 cores, where
 * one turn of a node's event loop took tens of seconds of wall time — comes
 * back to find its timer expired and the answer it was waiting for already
 * in its socket, and the plain timer fires first: the request is given up
 * and sent again, and every byte the other side had sent is paid twice.
 * In one 50-process `bench/swarm` run, 4,191 piece streams failed to open
 * and 2,580 piece requests timed out this way, and origin requests were
 * retried from scratch after "no answer for 30 s" that had bytes waiting.
 *
 * So an expired timeout here first lets one I/O poll run (setImmediate
 * runs after it) and gives up only if nothing re-armed or cleared it in
 * that poll. A peer that really said nothing still times out, one poll
 * later. See docs/scale.md.
 */

export interface IoTimer {
  /** Starts the full timeout again (progress was made). */
  refresh(): void
  clear(): void
}

/**
 * Calls `onExpire` once `ms` have passed without a refresh and one I/O poll
 * after that has not refreshed it either. Unref'd: it never keeps the
 * process alive.
 */
export function setIoTimeout (onExpire: () => void, ms: number): IoTimer {
  let timer: ReturnType<typeof setTimeout> | undefined
  let check: ReturnType<typeof setImmediate> | undefined
  const arm = (): void => {
    timer = setTimeout(() => {
      timer = undefined
      check = setImmediate(() => { check = undefined; onExpire() })
    }, ms)
    timer.unref()
  }
  const clear = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    if (check !== undefined) clearImmediate(check)
    timer = undefined
    check = undefined
  }
  arm()
  return {
    refresh () { clear(); arm() },
    clear
  }
}

/** What AbortSignal.timeout aborts with. */
export function timeoutError (): DOMException {
  return new DOMException('The operation was aborted due to timeout', 'TimeoutError')
}

/** AbortSignal.timeout, judged as above: it aborts with the same TimeoutError. */
export function ioTimeoutSignal (ms: number): AbortSignal {
  const ctrl = new AbortController()
  setIoTimeout(() => { ctrl.abort(timeoutError()) }, ms)
  return ctrl.signal
}
