import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * The shape the design card asks to stay visible (issue 7, "One writer of link state"): the API
 * authenticates, validates, records, enqueues and reads; SQL lives in libs/db repositories; the
 * processors are the only writers of derived state; no service imports another. These checks
 * read the source, so a shortcut that breaks the shape fails here, not in review.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'dist') continue;
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|tsx)$/.test(name)) out.push(path);
  }
  return out;
}

const apiFiles = sourceFiles(join(root, 'services/ingest-api/src')).filter((f) => !f.endsWith('.test.ts'));

test('the API runs no SQL of its own: every statement lives in a libs/db repository', (t) => {
  const offenders = apiFiles.filter((f) => /\.query\s*(<[^>]*>)?\s*\(/.test(readFileSync(f, 'utf8')) && !f.endsWith('auth/admin-token.ts'));
  t.deepEqual(offenders.map((f) => relative(root, f)), []);
});

test('the API never builds plans or verdicts: those are the domain\'s and the processor\'s', (t) => {
  const engine = /\b(buildTransferPlan|buildRemedyPlan|planGroupLinks|decideLinkFeedback|recomputeGroupDataset)\b/;
  t.deepEqual(apiFiles.filter((f) => engine.test(readFileSync(f, 'utf8'))).map((f) => relative(root, f)), []);
});

test('no service imports another service', (t) => {
  const services = readdirSync(join(root, 'services')).filter((d) => statSync(join(root, 'services', d)).isDirectory());
  const packageOf = (dir: string) => (JSON.parse(readFileSync(join(root, 'services', dir, 'package.json'), 'utf8')) as { name: string }).name;
  const names = new Map(services.map((d) => [d, packageOf(d)]));
  const offenders: string[] = [];
  for (const dir of services) {
    for (const file of sourceFiles(join(root, 'services', dir, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const [other, name] of names) {
        if (other === dir) continue;
        if (text.includes(`'${name}'`) || text.includes(`'${name}/`) || text.includes(`services/${other}/`) || text.includes(`../${other}/`)) offenders.push(`${relative(root, file)} → ${name}`);
      }
    }
  }
  t.deepEqual(offenders, []);
});
