/**
 * The library reports progress as events; only src/cli renders them (TTY bar, plain lines, JSON lines).
 */
export type VaultEvent =
  | { type: 'phase'; phase: string; detail?: string }
  | { type: 'download:start'; id: string; size: number; resumeFrom: number }
  | { type: 'download:progress'; id: string; bytes: number }
  | { type: 'download:done'; id: string; size: number; cached: boolean }
  | { type: 'download:retry'; id: string; attempt: number; reason: string; delayMs: number }
  | { type: 'verify:file'; path: string; ok: boolean }
  | { type: 'warn'; message: string; subject?: string }
  | { type: 'info'; message: string };

export type Reporter = (event: VaultEvent) => void;
