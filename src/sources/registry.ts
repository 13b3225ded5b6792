import { UsageError } from '../util/errors.js';
import { aptSource } from './apt/index.js';
import { fileSource } from './file/index.js';
import { hfSource } from './hf/index.js';
import { pipSource } from './pip/index.js';
import type { Locked, Source, SourceKind } from './source.js';

/** Every source, in install order on the box. Adding a source: one folder plus one line here. */
export const sources: readonly Source<never>[] = [
  fileSource as Source<never>,
  aptSource as Source<never>,
  pipSource as Source<never>,
  hfSource as Source<never>,
];

export function sourceFor(item: Pick<Locked, 'kind'>): Source {
  return sourceOfKind(item.kind);
}

export function sourceOfKind(kind: SourceKind): Source {
  const s = sources.find((x) => x.kind === kind);
  if (!s) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `this version of vault-bundle has no "${kind}" source`,
      hint: 'upgrade vault-bundle, or remove that section',
    });
  }
  return s;
}
