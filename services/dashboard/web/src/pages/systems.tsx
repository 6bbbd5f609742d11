import { useState } from 'preact/hooks';
import { get, getPage, qs, request } from '../api.js';
import { Dialog, ErrorBox, Field, Loading, PageMain, Pager, SearchForm, TableHead } from '../components.js';
import { LinkTable } from './link-table.js';
import { ago, count, datasetLabel, dateTime } from '../format.js';
import { useResource } from '../hooks.js';
import type { Session } from '../main.js';
import { href, setParams, type Route } from '../router.js';

const COLUMNS: Array<[string, string, boolean]> = [
  ['hostname', 'Host name', true],
  ['platform', 'Platform', true],
  ['site', 'Site', true],
  ['status', 'Status', true],
  ['last_seen', 'Last heartbeat', true],
  ['agent', 'Agent', false],
  ['datasets', 'Datasets', false],
  ['snapshots', 'Snapshots', false],
  ['last_inventory_at', 'Inventory age', true],
];

export function SystemsPage({ route }: { route: Route }) {
  const p = route.params;
  const limit = 50;
  const offset = Number(p.get('offset') ?? 0) || 0;
  const sort = p.get('sort') ?? 'hostname';
  const order = p.get('order') === 'desc' ? 'desc' : 'asc';
  const query = qs({ q: p.get('q'), status: p.get('status'), site: p.get('site'), sort, order, limit, offset, include: 'stats' });
  const page = useResource(() => getPage(`/systems${query}`), [query]);

  const sortBy = (col: string) => setParams(route, { sort: col, order: sort === col && order === 'asc' ? 'desc' : 'asc', offset: null });
  return (
    <PageMain title="Systems">
      <SearchForm route={route} label="Search host name, site or platform">
        <Field label="Status">
          <select value={p.get('status') ?? ''} onChange={(e) => setParams(route, { status: (e.target as HTMLSelectElement).value, offset: null })}>
            <option value="">any</option>
            <option value="online">online</option>
            <option value="offline">offline</option>
          </select>
        </Field>
      </SearchForm>
      <ErrorBox error={page.error} />
      {!page.data ? (
        <Loading />
      ) : (
        <>
          <table class="data" aria-busy={page.loading}>
            <caption class="visually-hidden">Registered systems, sorted by {sort}</caption>
            <thead>
              <tr>
                {COLUMNS.map(([key, label, sortable]) => (
                  <th scope="col" key={key} aria-sort={sort === key ? (order === 'asc' ? 'ascending' : 'descending') : undefined}>
                    {sortable ? (
                      <button type="button" class="sort" onClick={() => sortBy(key)}>
                        {label} {sort === key ? (order === 'asc' ? '▲' : '▼') : ''}
                      </button>
                    ) : (
                      label
                    )}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {page.data.items.map((s: any) => (
                <tr key={s.id}>
                  <td>
                    <a href={href(['systems', s.id])} data-testid="system-link">
                      {s.hostname}
                    </a>
                  </td>
                  <td>{s.platform}</td>
                  <td>{s.site ?? '—'}</td>
                  <td>
                    <span class={`status s-${s.status}`}>{s.status}</span>
                  </td>
                  <td>{ago(s.last_seen)}</td>
                  <td>{s.agent_version ?? '—'}</td>
                  <td class="num">{count(s.dataset_count)}</td>
                  <td class="num">{count(s.snapshot_count)}</td>
                  <td>{s.last_inventory_at ? ago(s.last_inventory_at) : 'no inventory'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager total={page.data.total} limit={limit} offset={offset} onPage={(o) => setParams(route, { offset: o || null }, false)} label="systems" />
        </>
      )}
    </PageMain>
  );
}

function RotateKey({ id, hostname }: { id: string; hostname: string }) {
  const [open, setOpen] = useState(false);
  const [grace, setGrace] = useState('0');
  const [key, setKey] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const close = () => {
    setOpen(false);
    setKey(null);
    setError(null);
  };
  const rotate = async () => {
    try {
      const r = await request('POST', `/systems/${id}/api-key/rotate`, { old_key_valid_seconds: Number(grace) });
      setKey(r.body.api_key);
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <>
      <button type="button" onClick={() => setOpen(true)}>
        Rotate key…
      </button>
      {open ? (
        <Dialog title={`Rotate the key of ${hostname}`} onClose={close}>
          {key ? (
            <>
              <p>
                The new key is shown <strong>only now</strong>. Put it in the host's configuration:
              </p>
              <p>
                <code class="secret" data-testid="new-key">
                  {key}
                </code>
              </p>
              <div class="actions">
                <button type="button" onClick={() => void navigator.clipboard?.writeText(key)}>
                  Copy
                </button>
                <button type="button" class="primary" onClick={close}>
                  Done
                </button>
              </div>
            </>
          ) : (
            <>
              <Field label="Keep the old key working for (seconds)" hint="0 stops it at once">
                <input type="number" min="0" max="2592000" value={grace} onInput={(e) => setGrace((e.target as HTMLInputElement).value)} />
              </Field>
              <ErrorBox error={error} />
              <div class="actions">
                <button type="button" onClick={close}>
                  Cancel
                </button>
                <button type="button" class="primary" onClick={rotate}>
                  Rotate
                </button>
              </div>
            </>
          )}
        </Dialog>
      ) : null}
    </>
  );
}

function EditSite({ system, onSaved }: { system: any; onSaved: () => void }) {
  const [site, setSite] = useState<string>(system.site ?? '');
  const [error, setError] = useState<Error | null>(null);
  const [saved, setSaved] = useState(false);
  return (
    <form
      class="inline-form"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          await request('PUT', `/systems/${system.id}`, { site: site.trim() === '' ? null : site.trim() });
          setSaved(true);
          onSaved();
        } catch (err) {
          setError(err as Error);
        }
      }}
    >
      <Field label="Site">
        <input value={site} maxLength={64} onInput={(e) => (setSite((e.target as HTMLInputElement).value), setSaved(false))} />
      </Field>
      <button type="submit">Save site</button>
      {saved ? <span role="status">Saved.</span> : null}
      <ErrorBox error={error} />
    </form>
  );
}

export function SystemPage({ id, session }: { id: string; session: Session }) {
  const system = useResource(() => get(`/systems/${id}`), [id]);
  const health = useResource(() => get(`/systems/${id}/health`), [id]);
  const datasets = useResource(() => get(`/systems/${id}/datasets?limit=200`), [id]);
  const links = useResource(() => getPage(`/sync/links${qs({ system_id: id, limit: 200 })}`), [id]);
  const s = system.data;
  return (
    <PageMain title={s ? s.hostname : 'System'}>
      <ErrorBox error={system.error} />
      {!s ? (
        <Loading />
      ) : (
        <>
          <dl class="facts">
            <dt>Platform</dt>
            <dd>{s.platform}</dd>
            <dt>Site</dt>
            <dd>{s.site ?? '—'}</dd>
            <dt>Status</dt>
            <dd>{health.data ? `${health.data.status} (last heartbeat ${ago(health.data.last_seen)})` : '…'}</dd>
            <dt>SSH</dt>
            <dd>{`${s.ssh_user ? `${s.ssh_user}@` : ''}${s.ssh_hostname ?? s.hostname}:${s.ssh_port}`}</dd>
            <dt>Agent</dt>
            <dd>{typeof s.extra_metadata?.agent_version === 'string' ? s.extra_metadata.agent_version : '—'}</dd>
            <dt>Registered</dt>
            <dd>{dateTime(s.created_at)}</dd>
          </dl>
          {session.canWrite ? (
            <section class="card" aria-labelledby="h-admin">
              <h2 id="h-admin">Administration</h2>
              <EditSite system={s} onSaved={system.reload} />
              <RotateKey id={s.id} hostname={s.hostname} />
            </section>
          ) : null}
        </>
      )}
      <section aria-labelledby="h-links">
        <h2 id="h-links">Links</h2>
        <ErrorBox error={links.error} />
        {!links.data ? (
          <Loading />
        ) : links.data.items.length === 0 ? (
          <p class="muted">This system is in no link.</p>
        ) : (
          <LinkTable links={links.data.items} caption="Links of this system" />
        )}
      </section>
      <section aria-labelledby="h-datasets">
        <h2 id="h-datasets">Datasets</h2>
        <ErrorBox error={datasets.error} />
        {!datasets.data ? (
          <Loading />
        ) : (
          <table class="data">
            <TableHead columns={['Pool', 'Dataset', 'Snapshots', 'Newest snapshot']} />
            <tbody>
              {datasets.data.items.map((d: any) => (
                <tr key={`${d.pool}/${d.dataset}`}>
                  <td>{d.pool}</td>
                  <td>{datasetLabel(d.dataset)}</td>
                  <td class="num">{count(d.snapshot_count)}</td>
                  <td>{dateTime(d.newest_snapshot_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {datasets.data && datasets.data.total > datasets.data.items.length ? <p class="muted">Showing {datasets.data.items.length} of {count(datasets.data.total)} datasets.</p> : null}
      </section>
    </PageMain>
  );
}
