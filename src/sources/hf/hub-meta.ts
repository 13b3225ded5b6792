import { UpstreamError } from '../../util/errors.js';
import { safeRepoPath } from './paths.js';

/** A repository file name that could escape the model cache is refused, never written. */
export function refuseHostile(path: string, subject: string): void {
  if (!safeRepoPath(path)) {
    throw new UpstreamError({
      code: 'NOT_FOUND_IN_INDEX',
      message: `${subject}: refusing the file name ${JSON.stringify(path)} (absolute, "..", or control characters)`,
      subject,
      hint: 'the repository holds a file name that could escape the model cache; exclude it with "exclude" or do not bundle this repository',
    });
  }
}

/** A 401/403 from the Hub means a gated or private repository: say what to do about it. */
export function gatedHint(err: unknown): unknown {
  const status = (err as { cause?: { status?: number } }).cause?.status;
  if (err instanceof UpstreamError && (status === 401 || status === 403)) {
    return new UpstreamError({
      code: 'HTTP_STATUS',
      message: err.message,
      subject: err.subject,
      hint: 'the repository is gated or private: accept its terms on the Hub and set HF_TOKEN (or run huggingface-cli login)',
      cause: err,
    });
  }
  return err;
}
