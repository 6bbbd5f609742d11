import { get, qs } from '../api.js';
import { ErrorBox, Loading, PageMain, Pager, ParamCheckbox } from '../components.js';
import { ago, count, datasetLabel, dateTime } from '../format.js';
import { useResource } from '../hooks.js';
import { href, setParams, type Route } from '../router.js';

function Holders({ point }: { point: any }) {
  if (!point) return <span class="muted">none</span>;
  return (
    <>
      <span>
        <code>{point.name}</code> ({dateTime(point.created_at)})
      </span>
      <br />
      <strong>{point.copies}</strong> host{point.copies === 1 ? '' : 's'}, {point.pools} pool{point.pools === 1 ? '' : 's'}, {point.sites} site{point.sites === 1 ? '' : 's'}
      <ul class="holders">
        {point.holders.map((h: any) => (
          <li key={`${h.system_id}/${h.pool}`}>
            <a href={href(['systems', h.system_id])}>{h.hostname}</a>: {h.pool}
            {h.site ? <span class="muted"> ({h.site})</span> : null}
          </li>
        ))}
      </ul>
    </>
  );
}

export function ProtectionPage({ route }: { route: Route }) {
  const p = route.params;
  const limit = 50;
  const offset = Number(p.get('offset') ?? 0) || 0;
  const onlyViolations = p.get('only_violations') === '1';
  const query = qs({ sync_group_id: p.get('sync_group_id'), only_violations: onlyViolations, limit, offset });
  const page = useResource(() => get(`/protection${query}`), [query]);
  return (
    <PageMain title="Protection">
      <p>
        Per dataset: how many hosts, pools and sites hold its newest eligible snapshot, and its newest snapshot at least a day old — matched by guid. Least protected first.
      </p>
      <div class="filters">
        <ParamCheckbox route={route} name="only_violations" label="Only datasets short of their group's policy" />
        {p.get('sync_group_id') ? <a href={href(['protection'], { only_violations: onlyViolations ? 1 : null })}>all groups</a> : null}
      </div>
      <ErrorBox error={page.error} />
      {!page.data ? (
        <Loading />
      ) : page.data.items.length === 0 ? (
        <p>{onlyViolations ? 'Every dataset meets its policy.' : 'No dataset is replicated by a group yet.'}</p>
      ) : (
        <>
          <table class="data protection" data-testid="protection">
            <caption class="visually-hidden">Datasets, least protected first</caption>
            <thead>
              <tr>
                <th scope="col">Dataset</th>
                <th scope="col">Group and policy</th>
                <th scope="col">Newest eligible snapshot</th>
                <th scope="col">Newest snapshot older than 24 h</th>
                <th scope="col">Missing on</th>
              </tr>
            </thead>
            <tbody>
              {page.data.items.map((r: any) => (
                <tr key={`${r.sync_group_id}/${r.dataset}`} class={r.violation ? 'violation' : ''} data-testid="protection-row" data-dataset={r.dataset}>
                  <th scope="row">
                    {datasetLabel(r.dataset)}
                    {r.violation ? <span class="badge v-error"> short of policy</span> : null}
                    {r.matched_by === 'name' ? <span class="muted"> (matched by name)</span> : null}
                  </th>
                  <td>
                    <a href={href(['groups', r.sync_group_id])}>{r.sync_group_name}</a>
                    <br />
                    {r.policy ? `${r.policy.min_copies} copies, ${r.policy.min_sites} sites` : <span class="muted">no policy</span>}
                  </td>
                  <td>
                    <Holders point={r.newest} />
                  </td>
                  <td>
                    <Holders point={r.day_old} />
                  </td>
                  <td>{r.missing.length ? r.missing.map((m: any) => m.hostname).join(', ') : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager total={page.data.total} limit={limit} offset={offset} onPage={(o) => setParams(route, { offset: o || null }, false)} label="datasets" />
          <p class="muted">
            {count(page.data.total)} datasets · computed {ago(page.data.items[0]?.computed_at)}
          </p>
        </>
      )}
    </PageMain>
  );
}
