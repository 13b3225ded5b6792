import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { TOOL } from '../version.js';
import { renderFleetHtml } from './html.js';
import { fleetJunit } from './junit.js';
import { loadFleet, parseExpected } from './load.js';
import { type FleetSummary, summarizeFleet } from './summary.js';

export interface FleetOptions {
  /** The results folder: a subfolder per inventory host, as the role fetches them. */
  results: string;
  /** Where fleet.html, fleet.json and fleet-junit.xml go (default: the results folder). */
  out?: string;
  /** A file of expected hosts (one per line, or an Ansible INI inventory): those without a folder did not report. */
  expect?: string;
  /** Clock for the page (tests pin it). */
  now?: Date;
}

export interface FleetResult {
  summary: FleetSummary;
  files: { html: string; json: string; junit: string };
  /** 0 when every box passed; 1 when a box failed or did not report (as smoke: the report itself was made). */
  exitCode: number;
}

/** Reads every box's fetched results and writes the fleet page, its JSON summary and one JUnit file. */
export async function fleetCommand(o: FleetOptions): Promise<FleetResult> {
  const results = resolve(o.results);
  const expected = o.expect
    ? parseExpected(
        await readFile(o.expect, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new UsageError({
            code: 'BAD_FLAG',
            message: `--expect ${o.expect}: cannot read it (${err.code ?? err.message})`,
            subject: '--expect',
            hint: 'give the inventory file or a list of host names, one a line',
          });
        }),
      )
    : [];
  const boxes = await loadFleet(results, expected);
  const summary = summarizeFleet(boxes, { source: results, generated: (o.now ?? new Date()).toISOString() });
  const out = resolve(o.out ?? results);
  await mkdir(out, { recursive: true });
  const files = { html: join(out, 'fleet.html'), json: join(out, 'fleet.json'), junit: join(out, 'fleet-junit.xml') };
  await writeFileAtomic(files.html, renderFleetHtml(summary, TOOL));
  await writeFileAtomic(files.json, `${JSON.stringify(summary, null, 2)}\n`);
  await writeFileAtomic(files.junit, fleetJunit(summary));
  const c = summary.counts;
  return { summary, files, exitCode: c.boxes > 0 && c.pass === c.boxes ? 0 : 1 };
}

/** The summary lines a person reads in the terminal (names escaped by the caller's renderer). */
export function fleetText(s: FleetSummary): string[] {
  const c = s.counts;
  const lines = [`fleet: ${c.pass} of ${c.boxes} boxes pass, ${c.fail} fail, ${c.noReport} did not report, ${c.outliers} with outliers`];
  for (const b of s.boxes) {
    const out = b.outliers.length ? ` [outlier: ${b.outliers.join(', ')}]` : '';
    lines.push(`  ${b.status === 'pass' ? 'PASS' : b.status === 'fail' ? 'FAIL' : 'NONE'}  ${b.host}  ${b.reason}${out}`);
  }
  return lines;
}
