import test from 'ava';
import { MAX_JSON_DEPTH, inspectJson } from './body.js';

test('inspectJson: paired surrogates (emoji) and ordinary text pass; NUL and lone surrogates are found with their pointer', (t) => {
  t.is(inspectJson(JSON.parse('{"a":"\\ud83d\\ude00 ok","b":["é",1,null,{"c":"x"}]}')), null);
  t.like(inspectJson(JSON.parse('{"a":{"b":[0,"x\\u0000"]}}')), { pointer: '/a/b/1', field: 'a.b[1]' });
  t.like(inspectJson(JSON.parse('{"a":"\\udc00"}')), { pointer: '/a' });
  t.like(inspectJson(JSON.parse('{"a":"\\ud800x"}')), { pointer: '/a' });
  t.like(inspectJson(JSON.parse('{"k\\u0000":1}')), { pointer: '/k\u0000' });
  t.like(inspectJson(JSON.parse('{"a/b~c":"\\u0000"}')), { pointer: '/a~1b~0c' });
  // Told the raw text had no such escapes, strings are not looked at (only the depth).
  t.is(inspectJson({ a: 'x\u0000' }, MAX_JSON_DEPTH, false), null);
});

test('inspectJson: nesting up to the limit passes, one level more is refused where it happens', (t) => {
  const nest = (n: number): unknown => (n === 0 ? 'leaf' : { a: nest(n - 1) });
  t.is(inspectJson(nest(MAX_JSON_DEPTH)), null);
  const bad = inspectJson(nest(MAX_JSON_DEPTH + 1));
  t.truthy(bad);
  t.regex(bad!.detail, /nested too deeply/);
  t.is(bad!.pointer, '/a'.repeat(MAX_JSON_DEPTH));
  // Thousands deep without a stack overflow.
  t.truthy(inspectJson(JSON.parse('['.repeat(100_000) + ']'.repeat(100_000))));
});
