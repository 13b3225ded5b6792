import { PgpError } from './errors.js';

/**
 * The layout of a clearsigned file as apt accepts it (apt-pkg/contrib/gpgv.cc SplitClearSignedFile, the same in
 * apt 2.6 and 3.x): an InRelease with text outside its signed block is refused, not read for its signed part.
 * Lines are compared after their line end (\n, \r) and trailing blanks (space, tab; RFC 9580 7.2) are cut:
 *  - the first line is `-----BEGIN PGP SIGNED MESSAGE-----`: nothing before it, not even an empty line;
 *  - armor header lines up to the first empty line; none starts with a dash;
 *  - the signed text: a line starting with a dash is `- ` (dash-escaped) or `-----BEGIN PGP SIGNATURE-----`;
 *  - then signature blocks only: inside one no line starts with a dash but its END line; between and after
 *    them only another `-----BEGIN PGP SIGNATURE-----`: no unsigned line, not even an empty one; the last is closed.
 * We refuse one thing apt lets through to gpgv: armor headers other than `Hash:` (openpgp.js refuses them too).
 * Throws PgpError('unsigned-text') naming the line.
 */
export function checkClearsignedLayout(text: string): void {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop(); // the final line end
  const line = (i: number) => lines[i]!.replace(/[\r\n]+$/, '').replace(/[ \t]+$/, '');
  const fail = (i: number, why: string): never => {
    throw new PgpError('unsigned-text', `line ${i + 1}: ${why}`);
  };
  if (lines.length === 0) fail(0, 'empty file');
  if (line(0) !== '-----BEGIN PGP SIGNED MESSAGE-----') {
    const at = lines.findIndex((_, i) => line(i) === '-----BEGIN PGP SIGNED MESSAGE-----');
    fail(0, at < 0 ? 'not a clearsigned file' : `unsigned text before the signed message (which starts on line ${at + 1})`);
  }
  let i = 1;
  for (; i < lines.length && line(i) !== ''; i++) {
    if (line(i).startsWith('-')) fail(i, 'an armor header line starts with a dash');
    if (!/^Hash: /.test(line(i))) fail(i, 'an armor header other than "Hash:" in the signed message header');
  }
  if (i >= lines.length) fail(i - 1, 'the file ends in the armor headers');
  for (i++; i < lines.length && line(i) !== '-----BEGIN PGP SIGNATURE-----'; i++) {
    if (line(i).startsWith('-') && !line(i).startsWith('- ')) fail(i, 'a line of the signed text starts with a dash but is not dash-escaped');
  }
  if (i >= lines.length) fail(i - 1, 'the file ends before the signature');
  let open = true;
  for (i++; i < lines.length; i++) {
    const l = line(i);
    if (open) {
      if (l === '-----END PGP SIGNATURE-----') open = false;
      else if (l.startsWith('-')) fail(i, 'a line in the signature block starts with a dash');
    } else if (l === '-----BEGIN PGP SIGNATURE-----') {
      open = true;
    } else {
      fail(i, `unsigned text after the signature${l === '' ? ' (an empty line)' : ''}`);
    }
  }
  if (open) fail(lines.length - 1, 'the signature block is not closed');
}
