import test from 'ava';
import { identityFreeFingerprint } from './body-fingerprint.js';

const body = (reportId: string, generation: number, name = 'auto-1', extra = '') =>
  `{"report_id":"${reportId}","generation":${generation},"complete":true,"datasets":[{"pool":"tank","dataset":"a","snapshots":[{"name":"${name}","guid":"1","createtxg":"2","creation":1700000000}]}]${extra}}`;

test('the same inventory with another report_id and generation has the same fingerprint; the two values come back as sent', (t) => {
  const a = identityFreeFingerprint(body('r-1', 1))!;
  const b = identityFreeFingerprint(body('r-2', 1700000000123))!;
  t.is(a.hash, b.hash);
  t.is(b.reportIdToken, '"r-2"');
  t.is(b.generationToken, '1700000000123');
  t.regex(a.hash, /^[0-9a-f]{64}$/);
});

test('any other difference — a snapshot, the complete flag, spacing, member order — changes the fingerprint', (t) => {
  const base = identityFreeFingerprint(body('r', 1))!.hash;
  t.not(identityFreeFingerprint(body('r', 1, 'auto-2'))!.hash, base);
  t.not(identityFreeFingerprint(body('r', 1).replace('"complete":true', '"complete":false'))!.hash, base);
  t.not(identityFreeFingerprint(body('r', 1).replace('"complete":true', '"complete": true'))!.hash, base);
  t.not(identityFreeFingerprint(`{"generation":1,"report_id":"r",${body('r', 1).slice(body('r', 1).indexOf('"complete"'))}`)!.hash, base);
});

test('only top-level members are left out: a nested "report_id" or "generation", or one inside a string, is part of the fingerprint', (t) => {
  const nested = (v: string) => `{"report_id":"r","generation":1,"complete":true,"datasets":[{"pool":"tank","dataset":"a","report_id":"${v}","generation":"${v}"}]}`;
  t.not(identityFreeFingerprint(nested('x'))!.hash, identityFreeFingerprint(nested('y'))!.hash);
  const inString = (v: string) => `{"report_id":"r","generation":1,"complete":true,"datasets":[{"pool":"tank","dataset":"a \\",\\"report_id\\":\\"${v}\\" \\\\"}]}`;
  t.not(identityFreeFingerprint(inString('x'))!.hash, identityFreeFingerprint(inString('y'))!.hash);
  t.is(identityFreeFingerprint(inString('x'))!.reportIdToken, '"r"');
});

test('a body JSON.parse could read differently is not fingerprinted: an escaped key, a member twice, either member missing', (t) => {
  t.is(identityFreeFingerprint(`{"report\\u005fid":"x","report_id":"r","generation":1,"datasets":[]}`), null);
  t.is(identityFreeFingerprint(`{"report_id":"r","generation":1,"datasets":[],"report_id":"s"}`), null);
  t.is(identityFreeFingerprint(`{"report_id":"r","generation":1,"generation":2,"datasets":[]}`), null);
  t.is(identityFreeFingerprint(`{"report_id":"r","datasets":[]}`), null);
  t.is(identityFreeFingerprint(`{"generation":1,"datasets":[]}`), null);
});

test('what is not one JSON object is not fingerprinted', (t) => {
  for (const text of ['', '[]', '"x"', '{', '{"report_id":"r","generation":1', '{"report_id":"r","generation":1} x', '{"report_id":"r" "generation":1}', '{"report_id":"r","generation":1,}', '{"report_id":"r,"generation":1}', '\ufeff{"report_id":"r","generation":1}']) {
    t.is(identityFreeFingerprint(text), null, JSON.stringify(text));
  }
  t.truthy(identityFreeFingerprint(' \n{ "report_id" : "r" , "generation" : 1 }\n'));
});

test('long bodies are hashed in pieces without splitting a character: two bodies that differ in one astral character at a piece boundary differ', (t) => {
  // The last hashed part starts after the generation value; put a surrogate pair across its first 64 Ki boundary.
  const head = '{"report_id":"r","generation":1';
  const open = `${head},"d":"`;
  const filler = 'x'.repeat(head.length + 65_535 - open.length);
  const withChar = (c: string) => `${open}${filler}${c}${'y'.repeat(70_000)}"}`;
  t.is(withChar('😀').charCodeAt(head.length + 65_535), 0xd83d, 'the high surrogate is the last character of a piece');
  const a = identityFreeFingerprint(withChar('😀'))!;
  const b = identityFreeFingerprint(withChar('😃'))!;
  t.not(a.hash, b.hash);
  t.is(identityFreeFingerprint(withChar('😀'))!.hash, a.hash);
});
