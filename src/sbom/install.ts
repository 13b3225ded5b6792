import type { Locked } from '../sources/source.js';

/**
 * Where a `files:` artifact lands on the box and with which mode (the manifest's `install: {dest, mode}`).
 * Both are as security-relevant as the bytes: the same keyring copied to /etc/sudoers.d/, or made setuid,
 * is another bundle, so the SBOM, inspect, report and diff all show them.
 */
export type ModeFlag = 'setuid' | 'setgid' | 'world-writable';

export interface InstallTarget {
  dest: string;
  /** Four octal digits ("0644", "4755"), however the manifest spelled it. */
  mode: string;
  /** The bits a reviewer must not miss. */
  flags: ModeFlag[];
}

/** An octal mode as four digits, so "644" and "0644" compare equal; anything else as written. */
export function normalMode(mode: string): string {
  return /^[0-7]{1,4}$/.test(mode) ? parseInt(mode, 8).toString(8).padStart(4, '0') : mode;
}

export function modeFlags(mode: string): ModeFlag[] {
  if (!/^[0-7]{1,4}$/.test(mode)) return [];
  const n = parseInt(mode, 8);
  const out: ModeFlag[] = [];
  if (n & 0o4000) out.push('setuid');
  if (n & 0o2000) out.push('setgid');
  if (n & 0o002) out.push('world-writable');
  return out;
}

export function installOf(a: Pick<Locked, 'kind' | 'meta'>): InstallTarget | undefined {
  const dest = a.kind === 'file' ? a.meta?.dest : undefined;
  if (!dest) return undefined;
  // The file source writes "0644" when the manifest gives no mode; older indexes may lack it.
  const mode = normalMode(a.meta?.mode ?? '0644');
  return { dest, mode, flags: modeFlags(mode) };
}

/** "/etc/sudoers.d/zz, mode 4755 (SETUID)": upper case so that it stands out in a terminal. */
export function installText(t: InstallTarget): string {
  return `${t.dest}, mode ${t.mode}${t.flags.length ? ` (${t.flags.join(', ').toUpperCase()})` : ''}`;
}
