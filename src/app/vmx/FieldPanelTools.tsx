// The right side of a VMCS or VMCB panel's header: how many fields changed in this step, the
// "all N fields" / "important only" switch (one setting for every such panel), and the line
// saying where the structure is and who holds it.
import { useLab, useLabStoreApi } from '../sim-client-context';

export function FieldPanelTools({
  prefix,
  changedCount,
  total,
  meta,
}: {
  /** The test ids' prefix: 'vmcs' or 'vmcb'. */
  prefix: 'vmcs' | 'vmcb';
  changedCount: number;
  total: number;
  meta: string;
}) {
  const store = useLabStoreApi();
  const showAll = useLab((s) => s.vmcsShowAll);
  return (
    <>
      {changedCount > 0 && (
        <span className="vmcs-changed-count" data-testid={`${prefix}-changed-count`}>
          {changedCount} changed
        </span>
      )}
      <button
        type="button"
        className="btn btn-small vmcs-show-all"
        data-testid={`${prefix}-show-all`}
        aria-pressed={showAll}
        onClick={() => store.getState().setVmcsShowAll(!showAll)}
        title={showAll ? 'Show the important fields and those that changed' : 'Show every field'}
      >
        {showAll ? 'important only' : `all ${total} fields`}
      </button>
      <p className="vmcs-meta" data-testid={`${prefix}-meta`}>
        {meta}
      </p>
    </>
  );
}

/** The foot of a VMCS or VMCB panel when only the important fields show: "Show all N fields". */
export function ShowAllFields({
  prefix,
  total,
  hidden,
}: {
  prefix: 'vmcs' | 'vmcb';
  total: number;
  hidden: number;
}) {
  const store = useLabStoreApi();
  const showAll = useLab((s) => s.vmcsShowAll);
  if (showAll || hidden <= 0) return null;
  return (
    <button
      type="button"
      className="vmcs-more"
      onClick={() => store.getState().setVmcsShowAll(true)}
      data-testid={`${prefix}-more`}
    >
      Show all {total} fields ({hidden} more)
    </button>
  );
}
