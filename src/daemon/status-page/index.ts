/** The daemon's status page (docs/status-page.md): the page itself, and what `GET /api/v1/transfers` and `/api/v1/stats/history` answer. */
export { serveStatusPage, STATUS_PATH } from './page.js'
export { createTransferLog, RATE_WINDOW_MS, RECENT_TRANSFERS, type TransferLog, type TransferView, type TransferSource, type TransferState } from './transfers.js'
export { createStatsHistory, HISTORY_INTERVAL_MS, HISTORY_SAMPLES, type StatsHistory, type StatsSample } from './history.js'
