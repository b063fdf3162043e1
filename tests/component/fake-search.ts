// The fake client's search: the core's own query engine (engine/search.ts) over the canned
// run's events, turned back into trace columns. Change searches need a replayable run, which
// a canned run is not; the session client (session-client.ts) runs those on a real session.
import { runQuery, type SearchAnswer, type SearchColumns } from '../../src/core/engine/search';
import { EVENT_KIND_NAMES } from '../../src/core/engine/view';
import type { CannedRun } from './fake-run-builder';

const KIND = new Map(Object.entries(EVENT_KIND_NAMES).map(([k, n]) => [n, Number(k)]));

function columnsOf(run: CannedRun): SearchColumns {
  const ev = run.events;
  const col = (f: (e: (typeof ev)[number]) => number) => ev.map(f);
  const d = (e: (typeof ev)[number], keys: string[]) => keys.map((k) => e.data[k] ?? 0);
  const data = ev.map((e) => {
    switch (e.kind) {
      case 'delivery':
      case 'raise':
      case 'shutdown':
        return [(e.data.vector ?? 0) | ((e.data.type ?? 0) << 8), e.data.errorCode ?? e.data.event ?? 0, 0];
      case 'vmexit':
        return d(e, ['reason', 'intrInfo', 'vectoringInfo']);
      case 'vmentry':
        return d(e, ['injected', 'launch', 'guestRip']);
      case 'decision':
        return d(e, ['function', 'a', 'b']);
      case 'assert':
        return d(e, ['instruction', 'passed', 'x']);
      default:
        return [e.data.instruction ?? 0, 0, 0];
    }
  });
  return {
    length: ev.length,
    kind: col((e) => KIND.get(e.kind) ?? 0),
    level: col((e) => e.level),
    time: col((e) => e.time),
    d0: data.map((x) => x[0]),
    d1: data.map((x) => x[1]),
    d2: data.map((x) => x[2]),
  };
}

export function fakeSearch(run: CannedRun, query: string): SearchAnswer {
  return runQuery(
    {
      cols: columnsOf(run),
      assertionText: (i) =>
        run.views[i + 1]?.assertions.find((a) => a.step === i + 1)?.message ?? `assertion at step ${i + 1}`,
    },
    query,
  );
}
