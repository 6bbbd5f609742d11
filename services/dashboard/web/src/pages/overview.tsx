import { useEffect } from 'preact/hooks';
import { get } from '../api.js';
import { BarChart, ColumnChart, ErrorBox, Loading, PageMain } from '../components.js';
import { VERDICTS, count, datasetLabel, duration, verdictLabel } from '../format.js';
import { useDebounced, useResource } from '../hooks.js';
import { useLiveEvents } from '../live.js';
import { href } from '../router.js';

function Stat({ label, value, link, tone }: { label: string; value: string; link?: string; tone?: 'bad' | 'good' | undefined }) {
  const body = (
    <>
      <span class="stat-value">{value}</span>
      <span class="stat-label">{label}</span>
    </>
  );
  return <li class={`stat ${tone ?? ''}`}>{link ? <a href={link}>{body}</a> : body}</li>;
}

export function OverviewPage() {
  const overview = useResource(() => get('/overview'), []);
  // The statistics scan every snapshot: asked for only once the overview's numbers are on screen.
  const ready = overview.data !== null;
  const stats = useResource(() => (ready ? get('/statistics/fleet?days=30&top_pools=10') : new Promise<any>(() => {})), [ready]);
  const refresh = useDebounced(overview.reload, 2000);
  useLiveEvents(refresh);
  const o = overview.data;
  useEffect(() => {
    // What the browser test measures: the first paint with real numbers.
    if (o && performance.getEntriesByName('overview-ready').length === 0) requestAnimationFrame(() => performance.mark('overview-ready'));
  }, [o]);

  return (
    <PageMain title="Fleet overview">
      <ErrorBox error={overview.error} />
      {!o ? (
        <Loading />
      ) : (
        <>
          <section aria-labelledby="h-fleet">
            <h2 id="h-fleet" class="visually-hidden">
              Fleet
            </h2>
            <ul class="stats" data-testid="overview-stats">
              <Stat label="systems" value={count(o.systems.total)} link={href(['systems'])} />
              <Stat label="online" value={count(o.systems.online)} link={href(['systems'], { status: 'online' })} tone="good" />
              <Stat label="offline" value={count(o.systems.offline)} link={href(['systems'], { status: 'offline' })} tone={o.systems.offline > 0 ? 'bad' : undefined} />
              <Stat label="sync groups" value={count(o.groups.total)} link={href(['groups'])} />
              <Stat label="links" value={count(o.links.total)} link={href(['links'])} />
              <Stat label="open conflicts" value={count(o.conflicts.open)} link={href(['conflicts'])} tone={o.conflicts.open > 0 ? 'bad' : undefined} />
              <Stat
                label="datasets short of their protection policy"
                value={`${count(o.protection.violations)} / ${count(o.protection.under_policy)}`}
                link={href(['protection'], { only_violations: 1 })}
                tone={o.protection.violations > 0 ? 'bad' : undefined}
              />
              <Stat label="queue backlog" value={o.queues.backlog === null ? 'unknown' : count(o.queues.backlog)} link="/admin/queues" />
            </ul>
            <p>
              Oldest lag:{' '}
              {o.oldest_lag ? (
                <a href={href(['links', o.oldest_lag.sync_group_id, 'detail'], { dataset: o.oldest_lag.dataset, source: o.oldest_lag.source_system_id, target: o.oldest_lag.target_system_id })}>
                  {duration(o.oldest_lag.lag_seconds)} on {datasetLabel(o.oldest_lag.dataset)} ({verdictLabel(o.oldest_lag.verdict)})
                </a>
              ) : (
                'none'
              )}
            </p>
          </section>
          <section aria-labelledby="h-links" class="charts">
            <h2 id="h-links">Links by state</h2>
            <BarChart
              title="Links by verdict"
              items={VERDICTS.map((v) => ({ label: verdictLabel(v), value: o.links.by_verdict[v] ?? 0, cls: `v-${v}` }))}
              hrefOf={(label) => href(['links'], { verdict: VERDICTS.find((v) => verdictLabel(v) === label) })}
            />
          </section>
        </>
      )}
      <section aria-labelledby="h-stats" class="charts">
        <h2 id="h-stats">Snapshots</h2>
        <ErrorBox error={stats.error} />
        {!stats.data ? (
          <Loading what="Counting snapshots" />
        ) : (
          <div class="chart-row">
            <ColumnChart title="Snapshots created per day, last 30 days" items={stats.data.snapshots_per_day.map((d: any) => ({ label: d.day, value: d.created }))} />
            <BarChart title="Top pools by snapshot count" items={stats.data.top_pools.map((p: any) => ({ label: `${p.hostname}: ${p.pool}`, value: p.snapshots }))} />
          </div>
        )}
      </section>
    </PageMain>
  );
}
