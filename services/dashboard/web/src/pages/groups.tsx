import { useState } from 'preact/hooks';
import { get, getPage, qs, request } from '../api.js';
import { ErrorBox, Field, Loading, PageMain, Pager, ParamCheckbox, SearchForm, TableHead, VerdictBadge } from '../components.js';
import { CELL_LABELS, count, datasetLabel, duration, verdictLabel } from '../format.js';
import { useDebounced, useResource } from '../hooks.js';
import { useLiveEvents } from '../live.js';
import type { Session } from '../main.js';
import { href, navigate, setParams, type Route } from '../router.js';
import { touchesGroup } from '../sse.js';

export function GroupsPage({ session }: { session: Session }) {
  const groups = useResource(() => get('/sync-groups'), []);
  const [creating, setCreating] = useState(false);
  return (
    <PageMain
      title="Sync groups"
      actions={
        session.canWrite && !creating ? (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            New group
          </button>
        ) : null
      }
    >
      {creating ? <GroupForm group={null} onDone={(id) => (id ? navigate(href(['groups', id])) : setCreating(false))} /> : null}
      <ErrorBox error={groups.error} />
      {!groups.data ? (
        <Loading />
      ) : groups.data.length === 0 ? (
        <p>No sync group yet.</p>
      ) : (
        <table class="data">
          <TableHead columns={['Name', 'Topology', 'Members', 'Enabled', 'Protection']} />
          <tbody>
            {groups.data.map((g: any) => (
              <tr key={g.id}>
                <td>
                  <a href={href(['groups', g.id])}>{g.name}</a>
                </td>
                <td>{g.directional ? 'hub and spokes' : 'mesh'}</td>
                <td class="num">{g.system_ids.length}</td>
                <td>{g.enabled ? 'yes' : 'no'}</td>
                <td>{g.protection ? `${g.protection.min_copies} copies, ${g.protection.min_sites} sites` : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </PageMain>
  );
}

/** Pick members by searching host names (a fleet may have thousands of systems). */
function MemberPicker({ selected, onChange }: { selected: Array<{ id: string; hostname: string }>; onChange: (v: Array<{ id: string; hostname: string }>) => void }) {
  const [q, setQ] = useState('');
  const found = useResource(() => (q.trim() ? getPage(`/systems${qs({ q: q.trim(), limit: 10 })}`) : Promise.resolve({ items: [], total: 0 })), [q]);
  return (
    <fieldset class="picker">
      <legend>Members</legend>
      <ul class="chips" aria-label="Selected members">
        {selected.map((s) => (
          <li key={s.id}>
            {s.hostname}{' '}
            <button type="button" aria-label={`Remove ${s.hostname}`} onClick={() => onChange(selected.filter((x) => x.id !== s.id))}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <Field label="Add a member (search host names)">
        <input type="search" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
      </Field>
      <ul class="suggestions">
        {(found.data?.items ?? [])
          .filter((s: any) => !selected.some((x) => x.id === s.id))
          .map((s: any) => (
            <li key={s.id}>
              <button type="button" onClick={() => onChange([...selected, { id: s.id, hostname: s.hostname }])}>
                Add {s.hostname}
              </button>
            </li>
          ))}
      </ul>
    </fieldset>
  );
}

function GroupForm({ group, members: initialMembers = [], onDone }: { group: any | null; members?: Array<{ id: string; hostname: string }>; onDone: (id: string | null) => void }) {
  const [name, setName] = useState(group?.name ?? '');
  const [description, setDescription] = useState(group?.description ?? '');
  const [directional, setDirectional] = useState<boolean>(group?.directional ?? true);
  const [hub, setHub] = useState<string>(group?.hub_system_id ?? '');
  const [members, setMembers] = useState(initialMembers);
  const [maxLag, setMaxLag] = useState(String(group?.max_lag_seconds ?? 259200));
  const [pattern, setPattern] = useState(group?.snapshot_pattern ?? '');
  const [minCopies, setMinCopies] = useState(group?.protection ? String(group.protection.min_copies) : '');
  const [minSites, setMinSites] = useState(group?.protection ? String(group.protection.min_sites) : '');
  const [error, setError] = useState<Error | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const body: Record<string, unknown> = {
      name: name.trim(),
      description: description.trim() || null,
      directional,
      hub_system_id: directional ? hub || null : null,
      system_ids: members.map((m) => m.id),
      max_lag_seconds: Number(maxLag),
      snapshot_pattern: pattern.trim() || null,
      protection: minCopies ? { min_copies: Number(minCopies), min_sites: Number(minSites || 1) } : null,
    };
    try {
      const r = group ? await request('PUT', `/sync-groups/${group.id}`, body) : await request('POST', '/sync-groups', body);
      onDone(r.body.id);
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <form class="card form" onSubmit={submit} aria-labelledby="h-group-form">
      <h2 id="h-group-form">{group ? 'Edit group' : 'New sync group'}</h2>
      <Field label="Name">
        <input required maxLength={128} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      </Field>
      <Field label="Description">
        <input maxLength={2000} value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
      </Field>
      <MemberPicker selected={members} onChange={setMembers} />
      <fieldset>
        <legend>Topology</legend>
        <label class="check">
          <input type="radio" name="topology" checked={directional} onChange={() => setDirectional(true)} /> Hub and spokes (the hub replicates to every other member)
        </label>
        <label class="check">
          <input type="radio" name="topology" checked={!directional} onChange={() => setDirectional(false)} /> Mesh (every member gets every snapshot)
        </label>
      </fieldset>
      {directional ? (
        <Field label="Hub">
          <select required value={hub} onChange={(e) => setHub((e.target as HTMLSelectElement).value)}>
            <option value="">choose a member</option>
            {members.map((m) => (
              <option key={m.id} value={m.id}>
                {m.hostname}
              </option>
            ))}
          </select>
        </Field>
      ) : null}
      <Field label="Maximum lag before out of sync (seconds)">
        <input type="number" min="0" value={maxLag} onInput={(e) => setMaxLag((e.target as HTMLInputElement).value)} />
      </Field>
      <Field label="Snapshot pattern (regular expression on snapshot names; empty: all)">
        <input value={pattern} maxLength={256} onInput={(e) => setPattern((e.target as HTMLInputElement).value)} />
      </Field>
      <fieldset>
        <legend>Protection policy (empty: none)</legend>
        <Field label="Minimum copies (hosts)">
          <input type="number" min="1" value={minCopies} onInput={(e) => setMinCopies((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label="Minimum sites">
          <input type="number" min="0" value={minSites} onInput={(e) => setMinSites((e.target as HTMLInputElement).value)} />
        </Field>
      </fieldset>
      <ErrorBox error={error} />
      <div class="actions">
        <button type="button" onClick={() => onDone(null)}>
          Cancel
        </button>
        <button type="submit" class="primary">
          {group ? 'Save' : 'Create group'}
        </button>
      </div>
    </form>
  );
}

function Cell({ cell, dataset, groupId, member }: { cell: any; dataset: string; groupId: string; member: any }) {
  const info = CELL_LABELS[cell.state];
  const l = cell.link;
  const tipId = `tip-${groupId}-${dataset}-${member.system_id}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const content = (
    <>
      <span aria-hidden="true">{info?.symbol ?? '?'}</span> <span class="cell-text">{verdictLabel(cell.state)}</span>
      {l && l.lag_seconds ? <span class="cell-lag"> {duration(l.lag_seconds)}</span> : null}
    </>
  );
  return (
    <td class={`cell v-${cell.state}`} data-testid="cell" data-dataset={dataset} data-system={member.system_id} data-state={cell.state}>
      {l ? (
        <a href={href(['links', groupId, 'detail'], { dataset, source: l.source_system_id, target: l.target_system_id })} aria-describedby={tipId}>
          {content}
        </a>
      ) : (
        <span tabIndex={0} aria-describedby={tipId}>
          {content}
        </span>
      )}
      <span role="tooltip" id={tipId} class="tooltip">
        <strong>
          {member.hostname}: {verdictLabel(cell.state)}
        </strong>
        <br />
        {l ? l.explanation : info?.help}
        {l?.base ? (
          <>
            <br />
            Latest common snapshot: {l.base.name}
          </>
        ) : null}
        {l && l.lag_seconds !== null ? (
          <>
            <br />
            Lag: {duration(l.lag_seconds)}
          </>
        ) : null}
        {cell.other_links ? (
          <>
            <br />
            (+{cell.other_links} more link{cell.other_links > 1 ? 's' : ''} into this member)
          </>
        ) : null}
      </span>
    </td>
  );
}

export function GroupPage({ id, route, session }: { id: string; route: Route; session: Session }) {
  const p = route.params;
  const limit = 50;
  const offset = Number(p.get('offset') ?? 0) || 0;
  const onlyProblems = p.get('only_problems') === '1';
  const query = qs({ q: p.get('q'), only_problems: onlyProblems, limit, offset });
  const matrix = useResource(() => get(`/sync/groups/${id}/matrix${query}`), [id, query]);
  const group = useResource(() => get(`/sync-groups/${id}`), [id]);
  const [editing, setEditing] = useState(false);
  const [actionError, setActionError] = useState<Error | null>(null);
  const refresh = useDebounced(() => {
    matrix.reload();
  }, 300);
  useLiveEvents((e) => touchesGroup(e, id) && refresh());
  const m = matrix.data;
  const g = group.data;
  const memberList = m ? m.members.map((x: any) => ({ id: x.system_id, hostname: x.hostname })) : [];

  const toggle = async () => {
    setActionError(null);
    try {
      await request('PUT', `/sync-groups/${id}`, { enabled: !g.enabled });
      group.reload();
      matrix.reload();
    } catch (err) {
      setActionError(err as Error);
    }
  };

  return (
    <PageMain
      title={g ? `Sync group ${g.name}` : 'Sync group'}
      actions={
        session.canWrite && g ? (
          <div class="actions">
            <button type="button" onClick={() => setEditing(!editing)} aria-expanded={editing}>
              Edit
            </button>
            <button type="button" onClick={toggle}>
              {g.enabled ? 'Disable' : 'Enable'}
            </button>
          </div>
        ) : null
      }
    >
      <ErrorBox error={actionError ?? group.error} />
      {g && editing ? (
        <GroupForm
          group={g}
          members={memberList}
          onDone={() => {
            setEditing(false);
            group.reload();
            matrix.reload();
          }}
        />
      ) : null}
      {g ? (
        <p>
          {g.directional ? 'Hub and spokes' : 'Mesh'} · {g.enabled ? 'enabled' : 'disabled'} · out of sync after {duration(g.max_lag_seconds)}
          {g.protection ? ` · protection: ${g.protection.min_copies} copies in ${g.protection.min_sites} sites` : ''} ·{' '}
          <a href={href(['protection'], { sync_group_id: id })}>protection of this group</a> · <a href={href(['conflicts'], { sync_group_id: id })}>conflicts</a>
        </p>
      ) : null}
      <SearchForm route={route} label="Filter datasets">
        <ParamCheckbox route={route} name="only_problems" label="Only problems" />
      </SearchForm>
      <ErrorBox error={matrix.error} />
      {!m ? (
        <Loading />
      ) : m.rows.length === 0 ? (
        <p>{onlyProblems ? 'No problems: every dataset is in sync or syncing.' : 'No dataset yet.'}</p>
      ) : (
        <>
          <div class="matrix-wrap">
            <table class="matrix" data-testid="matrix" aria-busy={matrix.loading}>
              <caption>
                Datasets × members. Each cell shows the verdict of the link into that member; focus or hover a cell for the explanation.
              </caption>
              <thead>
                <tr>
                  <th scope="col">Dataset</th>
                  {m.members.map((mem: any) => (
                    <th scope="col" key={mem.system_id}>
                      <a href={href(['systems', mem.system_id])}>{mem.hostname}</a>
                      {mem.is_hub ? <span class="hub"> ★ hub</span> : null}
                      {mem.site ? <span class="muted site"> {mem.site}</span> : null}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {m.rows.map((row: any) => (
                  <tr key={row.dataset}>
                    <th scope="row">{datasetLabel(row.dataset)}</th>
                    {row.cells.map((cell: any, i: number) => (
                      <Cell key={cell.system_id} cell={cell} dataset={row.dataset} groupId={id} member={m.members[i]} />
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager total={m.total} limit={limit} offset={offset} onPage={(o) => setParams(route, { offset: o || null }, false)} label="datasets" />
          <details class="legend">
            <summary>Legend</summary>
            <ul>
              {Object.keys(CELL_LABELS).map((k) => (
                <li key={k}>
                  <VerdictBadge verdict={k} /> {CELL_LABELS[k]!.help}
                </li>
              ))}
            </ul>
          </details>
          <p class="muted">{count(m.members.length)} members</p>
        </>
      )}
    </PageMain>
  );
}
