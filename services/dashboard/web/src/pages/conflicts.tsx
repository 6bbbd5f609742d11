import { useState } from 'preact/hooks';
import { ApiError, getPage, qs, request } from '../api.js';
import { Dialog, ErrorBox, Field, Loading, PageMain, Pager } from '../components.js';
import { count, datasetLabel, dateTime } from '../format.js';
import { useDebounced, useResource } from '../hooks.js';
import { useLiveEvents } from '../live.js';
import type { Session } from '../main.js';
import { href, setParams, type Route } from '../router.js';

const STRATEGY_TEXT: Record<string, string> = {
  rollback_target: 'Roll the target back to the common base (destroys the target-only snapshots), then send',
  force_receive: 'Receive with -F (destroys the target-only snapshots)',
  full_resend: 'Destroy the target copy and send everything again',
  rename_target: 'Keep the target copy under a new name and seed a fresh one (nothing is destroyed)',
  ignore: 'Ignore this conflict (no plan; it stays listed as ignored)',
  manual: 'Record that it will be handled by hand (no plan)',
};

type Pending = { conflict: any; strategy: string; wouldDestroy: string[] | null };

/**
 * Resolution: every strategy asks first. A destructive one is tried once without `confirm`: the
 * API answers 409 with exactly the snapshots it would destroy (the dry run), and only after the
 * operator ticks the acknowledgement is it sent again with `"confirm": true`.
 */
function Resolve({ pending, onClose, onDone }: { pending: Pending; onClose: () => void; onDone: (msg: string) => void }) {
  const [ack, setAck] = useState(false);
  const [note, setNote] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const c = pending.conflict;
  const destructive = pending.wouldDestroy !== null;
  const go = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await request('POST', `/conflicts/${c.id}/resolve`, { strategy: pending.strategy, ...(destructive ? { confirm: true } : {}), ...(note ? { note } : {}) });
      // The API records the choice; the witness carries it out (a plan for the host, or the new status).
      onDone(`Resolution recorded: ${pending.strategy.replaceAll('_', ' ')} (${r.body.resolution?.status ?? 'accepted'}). The witness carries it out; the executing host gets any plan with its next instructions.`);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Resolve: ${pending.strategy.replace('_', ' ')}`} onClose={onClose}>
      <p>{STRATEGY_TEXT[pending.strategy]}</p>
      <p>
        Dataset <code>{datasetLabel(c.dataset)}</code>, {c.source_hostname} → <strong>{c.target_hostname}</strong>
      </p>
      {destructive ? (
        <div class="danger" data-testid="casualties">
          <p>
            <strong>
              {pending.wouldDestroy!.length} snapshot{pending.wouldDestroy!.length === 1 ? '' : 's'} on {c.target_hostname} will be destroyed:
            </strong>
          </p>
          <ul class="names">
            {pending.wouldDestroy!.map((n) => (
              <li key={n}>
                <code>{n}</code>
              </li>
            ))}
          </ul>
          <label class="check">
            <input type="checkbox" checked={ack} onChange={(e) => setAck((e.target as HTMLInputElement).checked)} data-testid="confirm-destroy" /> I understand that these snapshots are destroyed on {c.target_hostname}
          </label>
        </div>
      ) : null}
      <Field label="Note (optional)">
        <input value={note} maxLength={2000} onInput={(e) => setNote((e.target as HTMLInputElement).value)} />
      </Field>
      <ErrorBox error={error} />
      <div class="actions">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" class={destructive ? 'danger-button' : 'primary'} disabled={busy || (destructive && !ack)} onClick={go}>
          {destructive ? 'Destroy and resolve' : 'Apply'}
        </button>
      </div>
    </Dialog>
  );
}

export function ConflictsPage({ route, session }: { route: Route; session: Session }) {
  const p = route.params;
  const limit = 50;
  const offset = Number(p.get('offset') ?? 0) || 0;
  const status = p.get('status') ?? 'open';
  const query = qs({ status: status === 'all' ? null : status, sync_group_id: p.get('sync_group_id'), limit, offset });
  const list = useResource(() => getPage(`/conflicts${query}`), [query]);
  const refresh = useDebounced(list.reload, 1000);
  useLiveEvents((e) => e.type.startsWith('conflict.') && refresh());
  const [pending, setPending] = useState<Pending | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);

  const choose = async (conflict: any, strategy: string) => {
    setError(null);
    setMessage(null);
    if (!conflict.destructive_strategies.includes(strategy)) return setPending({ conflict, strategy, wouldDestroy: null });
    try {
      // The dry run: without "confirm", a destructive strategy changes nothing and lists its casualties.
      await request('POST', `/conflicts/${conflict.id}/resolve`, { strategy });
      setMessage('The API applied the strategy without asking for confirmation.');
      list.reload();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && Array.isArray(err.problem.would_destroy)) setPending({ conflict, strategy, wouldDestroy: err.problem.would_destroy });
      else setError(err as Error);
    }
  };

  return (
    <PageMain title="Conflicts">
      <div class="filters">
        <Field label="Status">
          <select value={status} onChange={(e) => setParams(route, { status: (e.target as HTMLSelectElement).value, offset: null })}>
            <option value="open">open</option>
            <option value="ignored">ignored</option>
            <option value="resolved">resolved</option>
            <option value="all">all</option>
          </select>
        </Field>
      </div>
      {message ? (
        <p class="ok" role="status">
          {message}
        </p>
      ) : null}
      <ErrorBox error={error ?? list.error} />
      {!list.data ? (
        <Loading />
      ) : list.data.items.length === 0 ? (
        <p>No {status === 'all' ? '' : status} conflicts.</p>
      ) : (
        <>
          <ul class="conflicts">
            {list.data.items.map((c: any) => (
              <li key={c.id} class="card conflict" data-testid="conflict" data-id={c.id}>
                <h2>
                  {c.type.replaceAll('_', ' ')} on <code>{datasetLabel(c.dataset)}</code>
                </h2>
                <p>
                  <a href={href(['groups', c.sync_group_id])}>{c.sync_group_name}</a>: {c.source_hostname} → {c.target_hostname} · {c.severity} · detected {dateTime(c.detected_at)} · {c.status}
                </p>
                <p class="explain">{c.details?.explanation}</p>
                {c.details?.target_only ? <p>Only on the target: {count(c.details.target_only.count)} snapshot(s)</p> : null}
                {session.canWrite && c.status !== 'resolved' ? (
                  <div class="actions" role="group" aria-label="Resolve">
                    {c.strategies.map((s: string) => (
                      <button type="button" key={s} class={c.destructive_strategies.includes(s) ? 'danger-outline' : ''} onClick={() => choose(c, s)}>
                        {s.replaceAll('_', ' ')}
                        {c.destructive_strategies.includes(s) ? '…' : ''}
                      </button>
                    ))}
                  </div>
                ) : null}
              </li>
            ))}
          </ul>
          <Pager total={list.data.total} limit={limit} offset={offset} onPage={(o) => setParams(route, { offset: o || null }, false)} label="conflicts" />
        </>
      )}
      {pending ? (
        <Resolve
          pending={pending}
          onClose={() => setPending(null)}
          onDone={(msg) => {
            setPending(null);
            setMessage(msg);
            list.reload();
          }}
        />
      ) : null}
    </PageMain>
  );
}
