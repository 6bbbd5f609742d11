import ipaddr from 'ipaddr.js';

/**
 * Where a webhook may post (SSRF protection). One rule, used twice: by the API when an endpoint
 * is created or changed (a URL whose host is a literal refused address is refused at once), and
 * by the delivery processor on every request, against the address DNS actually returned, right
 * before the socket connects (so a name that later resolves to an internal address — DNS
 * rebinding — is refused too).
 *
 * Only globally routable unicast addresses are allowed: loopback, private (RFC 1918, unique
 * local), link-local (and so the 169.254.169.254 cloud metadata address), CGNAT, multicast,
 * unspecified, broadcast, reserved, documentation, NAT64/6to4/Teredo and IPv4-mapped forms of
 * all of these are refused — unless an operator allow-list (`webhook_allowed_cidrs`) names them.
 */

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

export class InvalidCidrError extends Error {
  override name = 'InvalidCidrError';
}

/** Parse `10.0.0.0/8, 127.0.0.1/32` (a bare address is a /32 or /128). */
export function parseAllowedCidrs(list: readonly string[]): Cidr[] {
  return list.map((raw) => {
    const s = raw.trim();
    try {
      if (s.includes('/')) {
        const [addr, bits] = ipaddr.parseCIDR(s);
        return [normalise(addr), addr.kind() === 'ipv6' && normalise(addr).kind() === 'ipv4' ? bits - 96 : bits] as Cidr;
      }
      const addr = normalise(ipaddr.parse(s));
      return [addr, addr.kind() === 'ipv4' ? 32 : 128] as Cidr;
    } catch {
      throw new InvalidCidrError(`not a CIDR range: ${s}`);
    }
  });
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address it carries. */
function normalise(addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) return (addr as ipaddr.IPv6).toIPv4Address();
  return addr;
}

function inAllowed(addr: ipaddr.IPv4 | ipaddr.IPv6, allowed: readonly Cidr[]): boolean {
  return allowed.some(([range, bits]) => range.kind() === addr.kind() && addr.match([range, bits] as never));
}

/** Why an address may not be connected to, or null when it may. `address` is a literal IP. */
export function refusedAddressReason(address: string, allowed: readonly Cidr[] = []): string | null {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = normalise(ipaddr.parse(address.replace(/^\[|\]$/g, '').replace(/%.*$/, '')));
  } catch {
    return `${address} is not an IP address`;
  }
  if (inAllowed(addr, allowed)) return null;
  const range = addr.range();
  if (range === 'unicast') return null;
  return `${addr.toString()} is a ${range} address; webhooks may only reach public addresses (see webhook_allowed_cidrs)`;
}

export type WebhookUrlCheck = { ok: true; url: URL; literalAddress: string | null } | { ok: false; reason: string };

/**
 * Check a webhook URL as written: http(s) only, no credentials, and a host that is either a name
 * (other than localhost) or a literal address outside the refused ranges. WHATWG URL parsing
 * already turns `127.1`, `2130706433` and `0x7f.1` into `127.0.0.1`.
 */
export function checkWebhookUrl(raw: string, allowed: readonly Cidr[] = []): WebhookUrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not a valid absolute URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: `must use http or https, not ${url.protocol.replace(/:$/, '')}` };
  if (url.username || url.password) return { ok: false, reason: 'must not contain credentials' };
  const host = url.hostname.replace(/\.$/, '').toLowerCase();
  if (host === '') return { ok: false, reason: 'has no host' };
  const literal = host.startsWith('[') ? host.slice(1, -1) : ipaddr.IPv4.isValidFourPartDecimal(host) ? host : null;
  if (literal !== null) {
    const reason = refusedAddressReason(literal, allowed);
    return reason ? { ok: false, reason } : { ok: true, url, literalAddress: literal };
  }
  if (host === 'localhost' || host.endsWith('.localhost')) {
    // Names that always mean this machine: refused unless loopback itself is allowed.
    const reason = refusedAddressReason('127.0.0.1', allowed);
    if (reason) return { ok: false, reason: `${host} is this machine; webhooks may only reach public addresses` };
  }
  return { ok: true, url, literalAddress: null };
}
