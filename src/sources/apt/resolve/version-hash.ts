import type { Stanza } from './model.js';

// Stanzas are immutable records shared by every resolve over the same sources, so their hash is kept with them.
const hashCache = new WeakMap<object, number>();

/**
 * debListParser::VersionHash: over Installed-Size, Depends, Pre-Depends, Conflicts, Breaks and Replaces, with
 * white space, '=' and "0:" epochs dropped and letters lower-cased (so dpkg's reformatting does not matter).
 * Two stanzas of the same version string are one version of the cache only when their hashes agree.
 */
export function versionHash(rec: Stanza): number {
  const hit = hashCache.get(rec);
  if (hit !== undefined) return hit;
  let h = 5381;
  const isz = rec.installedSize;
  for (const text of [isz === undefined ? undefined : String(isz), rec.depends, rec.preDepends, rec.conflicts, rec.breaks, rec.replaces]) {
    if (!text) continue;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x30 && text.charCodeAt(i + 1) === 0x3a) {
        i++;
        continue;
      }
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c || c === 0x3d) continue;
      h = (Math.imul(h, 33) + (c >= 0x41 && c <= 0x5a ? c + 32 : c)) >>> 0;
    }
  }
  hashCache.set(rec, h);
  return h;
}
