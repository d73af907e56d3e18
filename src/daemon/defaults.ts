/** Defaults shared by the daemon and the CLI, in a module light enough for every CLI start. */
export const DEFAULT_API = '127.0.0.1:7483'
export const DEFAULT_LISTEN = '/ip4/0.0.0.0/tcp/7480'
export const DEFAULT_UPSTREAMS: Record<string, string> = { 'docker.io': 'https://registry-1.docker.io' }
