import { get, getPage, qs } from '../api.js';
import { ErrorBox, Field, LineChart, Loading, PageMain, Pager, ParamCheckbox, SearchForm, TableHead, VerdictBadge } from '../components.js';
import { LinkTable } from './link-table.js';
import { VERDICTS, count, datasetLabel, dateTime, duration, verdictLabel } from '../format.js';
import { useDebounced, useResource } from '../hooks.js';
import { useLiveEvents } from '../live.js';
import { href, setParams, type Route } from '../router.js';
import { touchesGroup } from '../sse.js';

export function LinksPage({ route }: { route: Route }) {
  const p = route.params;
  const limit = 100;
  const offset = Number(p.get('offset') ?? 0) || 0;
  const query = qs({ verdict: p.get('verdict'), only_problems: p.get('only_problems') === '1', sync_group_id: p.get('sync_group_id'), q: p.get('q'), limit, offset });
  const page = useResource(() => getPage(`/sync/links${query || '?limit=100'}`), [query]);
  return (
    <PageMain title="Links">
      <SearchForm route={route} label="Dataset contains">
        <Field label="Verdict">
          <select value={p.get('verdict') ?? ''} onChange={(e) => setParams(route, { verdict: (e.target as HTMLSelectElement).value, offset: null })}>
            <option value="">any</option>
            {VERDICTS.map((v) => (
              <option key={v} value={v}>
                {verdictLabel(v)}
              </option>
            ))}
          </select>
        </Field>
        <ParamCheckbox route={route} name="only_problems" label="Only problems" />
      </SearchForm>
      <ErrorBox error={page.error} />
      {!page.data ? (
        <Loading />
      ) : (
        <>
          <LinkTable links={page.data.items} caption="Links, worst first" explain />
          <Pager total={page.data.total} limit={limit} offset={offset} onPage={(o) => setParams(route, { offset: o || null }, false)} label="links" />
        </>
      )}
    </PageMain>
  );
}

function Names({ title, list }: { title: string; list: { items: string[]; count: number } }) {
  return (
    <section>
      <h3>
        {title} ({count(list.count)})
      </h3>
      {list.count === 0 ? (
        <p class="muted">none</p>
      ) : (
        <ul class="names">
          {list.items.map((n) => (
            <li key={n}>
              <code>{n}</code>
            </li>
          ))}
          {list.count > list.items.length ? <li class="muted">… and {count(list.count - list.items.length)} more</li> : null}
        </ul>
      )}
    </section>
  );
}

export function LinkPage({ groupId, route }: { groupId: string; route: Route }) {
  const p = route.params;
  const days = Number(p.get('days') ?? 7) || 7;
  // dataset is always sent: the empty path is the pool's root dataset.
  const query = `?${new URLSearchParams({ dataset: p.get('dataset') ?? '', source_system_id: p.get('source') ?? '', target_system_id: p.get('target') ?? '', days: String(days) })}`;
  const detail = useResource(() => get(`/sync/groups/${groupId}/links/detail${query}`), [groupId, query]);
  const refresh = useDebounced(detail.reload, 500);
  useLiveEvents((e) => touchesGroup(e, groupId) && refresh());
  const d = detail.data;
  const l = d?.link;
  return (
    <PageMain title={l ? `${datasetLabel(l.dataset)}: ${l.source_hostname} → ${l.target_hostname}` : 'Link'}>
      <ErrorBox error={detail.error} />
      {!d ? (
        <Loading />
      ) : (
        <>
          <p>
            <VerdictBadge verdict={l.verdict} /> {l.explanation}
          </p>
          <dl class="facts">
            <dt>Group</dt>
            <dd>
              <a href={href(['groups', l.sync_group_id])}>{l.sync_group_name}</a>
            </dd>
            <dt>Source</dt>
            <dd>
              <a href={href(['systems', l.source_system_id])}>{l.source_hostname}</a> (pool {d.source_pool ?? '—'})
            </dd>
            <dt>Target</dt>
            <dd>
              <a href={href(['systems', l.target_system_id])}>{l.target_hostname}</a> (pool {d.target_pool ?? '—'})
            </dd>
            <dt>Latest common snapshot (base)</dt>
            <dd>{l.base ? <code>{l.base.name}</code> : 'none'}</dd>
            <dt>Next snapshot to send</dt>
            <dd>{d.end ? <code>{d.end.name}</code> : 'nothing'}</dd>
            <dt>Lag</dt>
            <dd>{duration(l.lag_seconds)}</dd>
            <dt>Matched by</dt>
            <dd>{l.matched_by === 'guid' ? 'guid (exact)' : 'name (a client reports no guids: weaker)'}</dd>
            {l.conflict_id ? (
              <>
                <dt>Conflict</dt>
                <dd>
                  <a href={href(['conflicts'], { id: l.conflict_id })}>open conflict</a>
                </dd>
              </>
            ) : null}
          </dl>
          <div class="chart-row">
            <Names title="Only on the source (newer than the base)" list={d.source_only} />
            <Names title="Only on the target (newer than the base)" list={d.target_only} />
          </div>
          <section aria-labelledby="h-lag">
            <h2 id="h-lag">Lag over time</h2>
            <p>
              {[1, 7, 30].map((n) => (
                <>
                  <a href={href(['links', groupId, 'detail'], { dataset: p.get('dataset'), source: p.get('source'), target: p.get('target'), days: n })} aria-current={days === n ? 'true' : undefined}>
                    {n} day{n > 1 ? 's' : ''}
                  </a>{' '}
                </>
              ))}
            </p>
            <LineChart title={`Lag, last ${days} days`} points={d.lag_history.map((s: any) => ({ t: Date.parse(s.at), v: s.lag_seconds ?? 0 }))} format={duration} />
          </section>
          <section aria-labelledby="h-plans">
            <h2 id="h-plans">Plan history</h2>
            {d.plans.length === 0 ? (
              <p class="muted">No plan was ever handed out for this link.</p>
            ) : (
              <table class="data">
                <TableHead columns={['Created', 'Kind', 'Snapshots', 'Status', 'Started', 'Finished', 'Error']} />
                <tbody>
                  {d.plans.map((pl: any) => (
                    <tr key={pl.id}>
                      <td>{dateTime(pl.created_at)}</td>
                      <td>{pl.strategy ? `${pl.kind} (${pl.strategy})` : pl.kind}</td>
                      <td>
                        {pl.starting_snapshot ? <code>{pl.starting_snapshot}</code> : 'full'} → <code>{pl.ending_snapshot}</code>
                      </td>
                      <td>{pl.status}</td>
                      <td>{dateTime(pl.started_at)}</td>
                      <td>{dateTime(pl.finished_at)}</td>
                      <td class="explain">{pl.last_error ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section aria-labelledby="h-transitions">
            <h2 id="h-transitions">Verdict changes</h2>
            <ol class="timeline">
              {d.transitions.map((t: any, i: number) => (
                <li key={i}>
                  {dateTime(t.at)}: {t.from_verdict ? verdictLabel(t.from_verdict) : 'new'} → {t.to_verdict ? verdictLabel(t.to_verdict) : 'gone'} — {t.reason}
                </li>
              ))}
            </ol>
          </section>
        </>
      )}
    </PageMain>
  );
}
