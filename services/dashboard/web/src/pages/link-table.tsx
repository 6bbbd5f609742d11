import { TableHead, VerdictBadge } from '../components.js';
import { datasetLabel, duration } from '../format.js';
import { href } from '../router.js';

/** Links as a table: group, dataset (to the link's page), hosts, verdict, lag and, optionally, why. */
export function LinkTable({ links, caption, explain = false }: { links: any[]; caption: string; explain?: boolean }) {
  return (
    <table class="data">
      <caption class="visually-hidden">{caption}</caption>
      <TableHead columns={['Group', 'Dataset', 'Source → target', 'Verdict', 'Lag', ...(explain ? ['Explanation'] : [])]} />
      <tbody>
        {links.map((l) => (
          <tr key={`${l.sync_group_id}/${l.dataset}/${l.source_system_id}/${l.target_system_id}`}>
            <td>
              <a href={href(['groups', l.sync_group_id])}>{l.sync_group_name}</a>
            </td>
            <td>
              <a href={href(['links', l.sync_group_id, 'detail'], { dataset: l.dataset, source: l.source_system_id, target: l.target_system_id })}>{datasetLabel(l.dataset)}</a>
            </td>
            <td>
              {l.source_hostname} → {l.target_hostname}
            </td>
            <td>
              <VerdictBadge verdict={l.verdict} />
            </td>
            <td>{duration(l.lag_seconds)}</td>
            {explain ? <td class="explain">{l.explanation}</td> : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
