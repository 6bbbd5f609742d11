import test from 'ava';
import { readFileSync } from 'node:fs';
import { EVENT_TYPES } from './events.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

test('the README documents every event type this service emits, each with an example payload', (t) => {
  const section = readme.slice(readme.indexOf('## Events, live stream and audit'));
  for (const type of EVENT_TYPES.filter((x) => !x.startsWith('webhook.'))) {
    const row = section.split('\n').find((l) => l.startsWith('|') && l.includes(`\`${type}\``));
    t.truthy(row, `${type} has a row`);
    t.regex(row ?? '', /`\{".*\}`/, `${type} has an example payload`);
  }
});
