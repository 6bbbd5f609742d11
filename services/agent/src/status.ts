/**
 * `status`: this host's links as the witness sees them — what it sends and receives, verdict,
 * lag, open conflicts — as a table, or JSON for scripts. Exit 1 when a link needs attention
 * (out of sync, diverged, no common base, error), so a monitoring check can run it as is.
 */
import { formatDuration } from './log.js';
import type { AgentContext } from './report.js';

const ATTENTION = new Set(['out_of_sync', 'diverged', 'no_common_base', 'error']);

export async function status(ctx: AgentContext, opts: { json: boolean; print?: (text: string) => void }): Promise<number> {
  const print = opts.print ?? ((t: string) => process.stdout.write(t));
  const me = ctx.witness.systemId;
  const [system, links] = await Promise.all([ctx.witness.system(), ctx.witness.links()]);
  const attention = links.filter((l) => ATTENTION.has(l.verdict)).length;
  if (opts.json) {
    print(`${JSON.stringify({ system, links, attention }, null, 2)}\n`);
    return attention > 0 ? 1 : 0;
  }
  const seen = system.last_seen ? `last seen ${system.last_seen}` : 'never seen';
  print(`system ${system.id} (${system.hostname}) — ${seen}, ${system.connectivity_status ?? 'unknown'}\n`);
  if (links.length === 0) {
    print('no links: this host is in no sync group, or it holds everything its groups replicate\n');
    return 0;
  }
  const rows = links.map((l) => {
    const sending = l.source_system_id === me;
    return [
      l.dataset === '' ? '(pool root)' : l.dataset,
      sending ? 'send →' : '← receive',
      String(sending ? l.target_system_id : l.source_system_id).slice(0, 8),
      l.verdict,
      l.lag_seconds === null || l.lag_seconds === undefined ? '-' : formatDuration(Number(l.lag_seconds)),
      l.conflict_id ? String(l.conflict_id).slice(0, 8) : '-',
      String(l.explanation ?? ''),
    ];
  });
  const header = ['DATASET', 'DIRECTION', 'PEER', 'VERDICT', 'LAG', 'CONFLICT', 'DETAIL'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) print(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
  if (attention > 0) print(`\n${attention} link(s) need attention; conflicts are resolved on the witness (POST /conflicts/{id}/resolve)\n`);
  return attention > 0 ? 1 : 0;
}
