import { readZipMember } from '../../util/zip.js';

/** The core metadata (`<name>.dist-info/METADATA`) of a wheel file (or of the wheel at `window` inside a file). */
export async function wheelMetadata(file: string, window?: { offset: number; length: number }): Promise<string> {
  const m = await readZipMember(file, (n) => /^[^/]+\.dist-info\/METADATA$/.test(n), 4 << 20, window);
  if (!m) throw new Error('no .dist-info/METADATA in the wheel');
  return m.data.toString('utf8');
}
