/** Every limit in one place, with units. Commands may override some through flags. */
export const limits = {
  concurrency: 8, // parallel downloads
  connectTimeoutMs: 15_000,
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 60_000, // longest silence mid-body before a retry
  retries: 4, // attempts after the first
  retryBaseDelayMs: 250, // doubled each attempt, with jitter
  retryMaxDelayMs: 8_000,
  maxRedirections: 5,
  maxDownloadBytes: 64 * 1024 ** 3, // any single artifact; a lock size is always checked too
  maxManifestBytes: 4 * 1024 ** 2,
  maxIndexBytes: 64 * 1024 ** 2, // bundle.json, SHA256SUMS
  hashChunkBytes: 4 * 1024 ** 2,
} as const;

export type Limits = { -readonly [K in keyof typeof limits]: number };
