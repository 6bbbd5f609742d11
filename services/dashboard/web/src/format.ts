/** Labels and formats shared by every page. Colours are in styles.css, keyed by the same names. */

export const VERDICTS = ['in_sync', 'behind', 'out_of_sync', 'diverged', 'no_common_base', 'not_seeded', 'syncing', 'error'] as const;

/** Every state a matrix cell can show: link verdicts and the member roles without a link. */
export const CELL_LABELS: Record<string, { label: string; symbol: string; help: string }> = {
  in_sync: { label: 'in sync', symbol: '✓', help: 'holds every eligible snapshot of its source' },
  behind: { label: 'behind', symbol: '↓', help: 'missing newer snapshots; a transfer is planned' },
  out_of_sync: { label: 'out of sync', symbol: '!', help: 'behind by more than the group allows (max_lag_seconds)' },
  diverged: { label: 'diverged', symbol: '✕', help: 'has snapshots its source lacks; an operator must choose' },
  no_common_base: { label: 'no common base', symbol: '∅', help: 'shares no snapshot with its source; only a full re-seed helps' },
  not_seeded: { label: 'not seeded', symbol: '○', help: 'does not have the dataset yet; a full send is planned' },
  syncing: { label: 'syncing', symbol: '⟳', help: 'a transfer is running or waiting for the next inventory' },
  error: { label: 'error', symbol: '‼', help: 'the transfer failed repeatedly' },
  source: { label: 'hub (source)', symbol: '★', help: 'the hub: the source of this group' },
  up_to_date: { label: 'up to date', symbol: '✓', help: 'holds the dataset and needs nothing' },
  absent: { label: 'absent', symbol: '·', help: 'does not have the dataset and nothing can be sent yet' },
};

export const verdictLabel = (v: string) => CELL_LABELS[v]?.label ?? v;

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const s = (now - Date.parse(iso)) / 1000;
  return s < 5 ? 'just now' : `${duration(s)} ago`;
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

export const count = (n: number | null | undefined) => (n === null || n === undefined ? '—' : n.toLocaleString('en-US'));

/** A dataset path for display: the pool root has the empty path. */
export const datasetLabel = (path: string) => (path === '' ? '(pool root)' : path);
