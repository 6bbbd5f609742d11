import test from 'ava';
import { checkWebhookUrl, parseAllowedCidrs, refusedAddressReason } from './address-policy.js';

const REFUSED = [
  'http://127.0.0.1/',
  'http://localhost/',
  'http://LOCALHOST./hook',
  'http://api.localhost/',
  'http://127.1/',
  'http://2130706433/',
  'http://0x7f.1/',
  'http://0177.0.0.1/',
  'http://[::1]/',
  'http://[::ffff:127.0.0.1]/',
  'http://[::ffff:7f00:1]/',
  'http://169.254.169.254/latest/meta-data/',
  'http://10.0.0.1/',
  'http://172.16.0.1/',
  'http://192.168.1.1/',
  'http://100.64.0.1/',
  'http://0.0.0.0/',
  'http://224.0.0.1/',
  'http://255.255.255.255/',
  'http://[fd00::1]/',
  'http://[fe80::1]/',
  'http://[::]/',
  'http://[64:ff9b::7f00:1]/',
  'file:///etc/passwd',
  'ftp://example.com/x',
  'gopher://example.com/',
  'http://user:pw@example.com/',
  'not a url',
];

for (const url of REFUSED) {
  test(`refused at creation: ${url}`, (t) => {
    t.false(checkWebhookUrl(url).ok);
  });
}

test('public names and addresses are allowed', (t) => {
  t.true(checkWebhookUrl('https://hooks.example.com/zfs').ok);
  t.true(checkWebhookUrl('http://93.184.216.34:8080/x').ok);
  t.true(checkWebhookUrl('https://[2606:2800:220:1:248:1893:25c8:1946]/').ok);
});

test('the allow-list opens exactly its ranges', (t) => {
  const allowed = parseAllowedCidrs(['127.0.0.1/32']);
  t.true(checkWebhookUrl('http://127.0.0.1:1234/', allowed).ok);
  t.true(checkWebhookUrl('http://127.1:1234/', allowed).ok);
  t.true(checkWebhookUrl('http://localhost:1234/', allowed).ok);
  t.false(checkWebhookUrl('http://127.0.0.2/', allowed).ok);
  t.false(checkWebhookUrl('http://10.0.0.1/', allowed).ok);
  t.false(checkWebhookUrl('http://[::1]/', allowed).ok);
  t.is(refusedAddressReason('::ffff:127.0.0.1', allowed), null);
  t.is(refusedAddressReason('10.1.2.3', parseAllowedCidrs(['10.0.0.0/8'])), null);
  t.throws(() => parseAllowedCidrs(['not-a-cidr']));
});

test('the reason names the range', (t) => {
  const r = checkWebhookUrl('http://169.254.169.254/');
  t.false(r.ok);
  if (!r.ok) t.regex(r.reason, /linkLocal/);
});
