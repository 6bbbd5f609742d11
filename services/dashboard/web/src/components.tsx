import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { CELL_LABELS, count, verdictLabel } from './format.js';
import { setParams, type Route } from './router.js';

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="muted" role="status">
      {what}…
    </p>
  );
}

export function ErrorBox({ error }: { error: Error | null }) {
  if (!error) return null;
  const p = error instanceof ApiError ? error.problem : null;
  return (
    <div class="error" role="alert">
      <strong>{error instanceof ApiError ? `Error ${error.status}` : 'Error'}:</strong> {error.message}
      {p?.field ? <span class="muted"> (field: {String(p.field)})</span> : null}
    </div>
  );
}

/** A verdict as colour + symbol + words: colour is never the only carrier of meaning. */
export function VerdictBadge({ verdict }: { verdict: string }) {
  const info = CELL_LABELS[verdict];
  return (
    <span class={`badge v-${verdict}`} title={info?.help}>
      <span aria-hidden="true">{info?.symbol ?? '?'}</span> {verdictLabel(verdict)}
    </span>
  );
}

export function Pager({ total, limit, offset, onPage, label }: { total: number; limit: number; offset: number; onPage: (offset: number) => void; label: string }) {
  const page = Math.floor(offset / limit) + 1;
  const pages = Math.max(1, Math.ceil(total / limit));
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" disabled={offset <= 0} onClick={() => onPage(Math.max(0, offset - limit))}>
        ← Previous
      </button>
      <span aria-live="polite">
        Page {page} of {pages} · {count(total)} {label}
      </span>
      <button type="button" disabled={offset + limit >= total} onClick={() => onPage(offset + limit)}>
        Next →
      </button>
    </nav>
  );
}

/**
 * A modal dialog: focus moves into it and returns where it was, Escape closes it, the rest of the
 * page is inert while it is open.
 */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current!;
    const before = document.activeElement as HTMLElement | null;
    dialog.showModal();
    const onCancel = (e: Event) => {
      e.preventDefault();
      onClose();
    };
    dialog.addEventListener('cancel', onCancel);
    return () => {
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      before?.focus?.();
    };
  }, []);
  return (
    <dialog ref={ref} aria-labelledby="dialog-title" class="dialog">
      <h2 id="dialog-title">{title}</h2>
      {children}
    </dialog>
  );
}

// ------------------------------------------------------------------------------------------
// Charts: plain SVG with a text alternative (a table or a summary) for screen readers.

export function BarChart({ title, items, hrefOf }: { title: string; items: Array<{ label: string; value: number; cls?: string }>; hrefOf?: (label: string) => string }) {
  const max = Math.max(1, ...items.map((i) => i.value));
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <ul class="bars">
        {items.map((i) => (
          <li key={i.label}>
            <span class="bar-label">{hrefOf ? <a href={hrefOf(i.label)}>{i.label}</a> : i.label}</span>
            <span class="bar-track" aria-hidden="true">
              <span class={`bar ${i.cls ?? ''}`} style={{ width: `${(100 * i.value) / max}%` }} />
            </span>
            <span class="bar-value">{count(i.value)}</span>
          </li>
        ))}
      </ul>
    </figure>
  );
}

export function ColumnChart({ title, items }: { title: string; items: Array<{ label: string; value: number }> }) {
  const max = Math.max(1, ...items.map((i) => i.value));
  const w = 600;
  const h = 160;
  const bw = w / Math.max(1, items.length);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${w} ${h + 20}`} role="img" aria-label={`${title}: ${items.map((i) => `${i.label} ${i.value}`).join(', ')}`}>
        {items.map((i, k) => {
          const bh = (h * i.value) / max;
          return (
            <g key={i.label}>
              <rect class="column" x={k * bw + 1} y={h - bh} width={Math.max(1, bw - 2)} height={bh}>
                <title>{`${i.label}: ${count(i.value)}`}</title>
              </rect>
              {k % Math.ceil(items.length / 6) === 0 ? (
                <text x={k * bw} y={h + 14} class="axis">
                  {i.label.slice(5)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

/** A step line of values over time (the lag of a link). */
export function LineChart({ title, points, format }: { title: string; points: Array<{ t: number; v: number }>; format: (v: number) => string }) {
  if (points.length === 0) return <p class="muted">{title}: no samples in this period.</p>;
  const w = 600;
  const h = 160;
  const t0 = points[0]!.t;
  const t1 = Math.max(Date.now(), points[points.length - 1]!.t);
  const max = Math.max(1, ...points.map((p) => p.v));
  const x = (t: number) => (t1 === t0 ? w : ((t - t0) / (t1 - t0)) * w);
  const y = (v: number) => h - (h * v) / max;
  let d = `M ${x(points[0]!.t)} ${y(points[0]!.v)}`;
  for (let i = 1; i < points.length; i++) d += ` H ${x(points[i]!.t)} V ${y(points[i]!.v)}`;
  d += ` H ${w}`;
  return (
    <figure class="chart">
      <figcaption>
        {title} (max {format(max)})
      </figcaption>
      <svg viewBox={`0 0 ${w} ${h + 4}`} role="img" aria-label={`${title}: ${points.length} samples, highest ${format(max)}, latest ${format(points[points.length - 1]!.v)}`}>
        <path d={d} class="line" />
      </svg>
    </figure>
  );
}

export function Field({ label, children, hint }: { label: string; children: ComponentChildren; hint?: string }) {
  return (
    <label class="field">
      <span class="field-label">{label}</span>
      {children}
      {hint ? <span class="hint">{hint}</span> : null}
    </label>
  );
}

/** The page's main landmark: the skip link focuses it, the h1 names the page. */
export function PageMain({ title, children, actions }: { title: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <main id="main" tabIndex={-1}>
      <div class="page-head">
        <h1>{title}</h1>
        {actions}
      </div>
      {children}
    </main>
  );
}

/** A table's header row: one column header per name. */
export function TableHead({ columns }: { columns: string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th scope="col" key={c}>
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/**
 * A list's search box (the `q` parameter of the view's URL) with the view's other filters beside
 * it; submitting goes back to the first page.
 */
export function SearchForm({ route, label, children }: { route: Route; label: string; children?: ComponentChildren }) {
  const [q, setQ] = useState(route.params.get('q') ?? '');
  return (
    <form
      class="filters"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        setParams(route, { q, offset: null });
      }}
    >
      <Field label={label}>
        <input type="search" name="q" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
      </Field>
      {children}
      <button type="submit">Search</button>
    </form>
  );
}

/** A yes/no filter kept in the view's URL (`name=1`). */
export function ParamCheckbox({ route, name, label }: { route: Route; name: string; label: string }) {
  return (
    <label class="check">
      <input type="checkbox" checked={route.params.get(name) === '1'} onChange={(e) => setParams(route, { [name]: (e.target as HTMLInputElement).checked ? 1 : null, offset: null })} /> {label}
    </label>
  );
}
