import { readZipMember } from '../../util/zip.js';

/** The core metadata (`<name>.dist-info/METADATA`) of a wheel file. */
export async function wheelMetadata(file: string): Promise<string> {
  const m = await readZipMember(file, (n) => /^[^/]+\.dist-info\/METADATA$/.test(n));
  if (!m) throw new Error('no .dist-info/METADATA in the wheel');
  return m.data.toString('utf8');
}
