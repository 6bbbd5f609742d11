import { useState } from 'preact/hooks';
import { get } from '../api.js';
import { ErrorBox, Field, PageMain } from '../components.js';
import { dateTime } from '../format.js';
import { useResource } from '../hooks.js';
import { useLiveEvents, useStreamState } from '../live.js';
import type { LiveEvent } from '../sse.js';

const KEEP = 200;

function summary(e: LiveEvent): string {
  const d = e.data;
  if (e.type === 'link.state_changed') return `${d.dataset ?? ''}: ${d.from ?? 'new'} → ${d.to ?? 'gone'}${d.explanation ? ` — ${d.explanation}` : ''}`;
  if (typeof d.hostname === 'string') return d.hostname;
  if (typeof d.dataset === 'string') return d.dataset;
  return '';
}

/** The live feed: the latest events from the log, then everything the stream brings, filterable. */
export function EventsPage() {
  const state = useStreamState();
  // The log answers its newest page oldest first; the feed shows newest first.
  const recent = useResource(() => get('/events?limit=50').then((r: any) => [...(Array.isArray(r) ? r : (r.items ?? r.events ?? []))].reverse() as LiveEvent[]), []);
  const [events, setEvents] = useState<LiveEvent[]>([]);
  const [filter, setFilter] = useState('');
  useLiveEvents((e) => setEvents((list) => [e, ...list].slice(0, KEEP)));
  const seen = new Set(events.map((e) => e.id));
  const all = [...events, ...(recent.data ?? []).filter((e) => !seen.has(e.id))];
  const shown = filter ? all.filter((e) => e.type.includes(filter) || JSON.stringify(e.data).includes(filter)) : all;
  return (
    <PageMain title="Events">
      <p>
        Stream: <span data-testid="stream-state">{state}</span>. New events appear at the top as they happen; the stream reconnects by itself and resumes where it left off.
      </p>
      <div class="filters">
        <Field label="Filter (event type or text)">
          <input type="search" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        </Field>
      </div>
      <ErrorBox error={recent.error && (recent.error as any).status !== 404 ? recent.error : null} />
      <ol class="events" aria-live="polite" aria-relevant="additions" data-testid="events">
        {shown.map((e) => (
          <li key={e.id}>
            <code>{e.type}</code> <span class="muted">{dateTime(e.occurred_at)}</span> {summary(e)}
          </li>
        ))}
      </ol>
      {shown.length === 0 ? <p class="muted">No events yet.</p> : null}
    </PageMain>
  );
}
