/**
 * File names from the Hub are untrusted input that becomes paths on the box: only relative paths of plain
 * segments are accepted (no `..`, no absolute paths, no backslashes or control characters, no empty segments).
 */
export function safeRepoPath(path: string): boolean {
  if (path.length === 0 || path.length > 1024) return false;
  if (path.startsWith('/') || path.includes('\\') || /[\u0000-\u001f\u007f]/.test(path)) return false;
  return path.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** fnmatch-style globs as huggingface_hub's allow_patterns use them: `*` matches across `/` too. */
export function globMatch(pattern: string, path: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(path);
}

export function selected(path: string, include: string[] | undefined, exclude: string[]): boolean {
  if (include && !include.some((g) => globMatch(g, path))) return false;
  return !exclude.some((g) => globMatch(g, path));
}

/** The cache folder name of a repo: models--org--name (huggingface_hub's repo_folder_name). */
export function repoFolder(type: 'model' | 'dataset', repo: string): string {
  return `${type}s--${repo.replace(/\//g, '--')}`;
}
