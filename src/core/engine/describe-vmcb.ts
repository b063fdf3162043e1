// Every VMCB the run knows, decoded from memory with the shared tables (svm/vmcb.ts fields,
// svm/vmcb-layout.ts bits and readings), with the fields that changed since the step before.
// Built only for the step shown (Session.view), never while simulating.
//
// A VMCB is an ordinary page of a level's memory (AMD APM vol. 2 "VMCB Layout"). While a guest
// runs, the processor holds some of its control fields and writes them back at #VMEXIT (APM
// "VMRUN": "the processor may cache ... VMCB state"); the lab shows the processor's copy of
// int_ctl for the running VMCB (V_IRQ, V_NMI, V_NMI_MASK and V_GIF change as the guest runs),
// marked `live`, and memory for everything else (docs/svm.md "In the trace and the views").
import { VMCB_FIELDS, type VmcbField } from '../svm/vmcb';
import { vmcbFieldSummary } from '../svm/vmcb-layout';
import { labelAt, levelName } from './describe';
import type { CompiledScenario } from '../scenario/load';
import type { SimState } from './machine';
import type { VmcbFieldView, VmcbView } from './view';
import { KVM_SVM_HOST } from '../hypervisors/kvm/svm-state';
import type { KvmState } from '../hypervisors/kvm/state';

/** A VMCB a source knows about: where it is, whose it is, and what the processor holds of it. */
export interface VmcbRef {
  /** Physical address in the memory of lane `owner`. */
  addr: number;
  owner: number;
  runs: number;
  role: string;
  heldBy: string;
  running: boolean;
  current: boolean;
  /** Field values the processor holds in place of memory's (by field name). */
  live: Record<string, number>;
  /** A merged VMCB: where each field came from, by offset (KVM's vmcb02). */
  provenance?: Record<number, string>;
}

export type VmcbSource = (c: CompiledScenario, s: SimState) => VmcbRef[];

/**
 * The VMCB of the processor's last VMRUN (SvmState.vmcb) in the memory of the level that ran it
 * ("vmcbAB": LA's VMCB to run LB).
 */
export const processorVmcb: VmcbSource = (c, s) => {
  const svm = s.svm;
  if (svm.vmcb < 0 || !c.lanes[svm.hostLane]) return [];
  const owner = svm.hostLane;
  const runs = svm.guestLane >= 0 ? svm.guestLane : owner + 1;
  const running = svm.guest;
  const live: Record<string, number> = running ? { int_ctl: svm.intCtl >>> 0 } : {};
  return [
    {
      addr: svm.vmcb,
      owner,
      runs,
      role: `vmcb${owner}${runs}`,
      heldBy: running
        ? `${levelName(c, owner)}'s memory; the processor runs L${runs} from it and holds int_ctl`
        : `${levelName(c, owner)}'s memory; the processor's last VMRUN`,
      running,
      current: true,
      live,
    },
  ];
};

/**
 * KVM at L0 on SVM: vmcb01 (L1's VMCB, which keeps L1's state while L2 runs), vmcb02 once L1
 * enabled SVM (vmcb01 and vmcb12 merged, with where each field came from), and the vmcb12 of
 * L1's last VMRUN in L1's memory (arch/x86/kvm/svm/nested.c).
 */
export const kvmVmcbs: VmcbSource = (c, s) => {
  if (c.scenario.arch !== 'svm') return [];
  const refs: VmcbRef[] = [];
  (s.kvms ?? []).forEach((k, lane) => {
    if (k && c.lanes[lane]?.kind === 'kvm') refs.push(...kvmLaneVmcbs(k, lane));
  });
  return refs;
};

/** The VMCBs of the KVM at `lane` (LA): vmcbA(A+1), vmcbAB and L(A+1)'s vmcb(A+1)B. */
function kvmLaneVmcbs(k: KvmState, lane: number): VmcbRef[] {
  const n = k.svm.nested;
  const guestMode = k.nested.guestMode;
  const up = lane + 1;
  const l2 = k.nested.l2Lane >= 0 ? k.nested.l2Lane : lane + 2;
  const L = (x: number) => `L${x}`;
  const refs: VmcbRef[] = [
    {
      addr: KVM_SVM_HOST.VMCB01,
      owner: lane,
      runs: up,
      role: `vmcb${lane}${up}`,
      heldBy: guestMode
        ? `KVM's memory (svm->vmcb01); holds ${L(up)}'s state while ${L(l2)} runs`
        : `KVM's memory (svm->vmcb01): the VMCB KVM runs ${L(up)} with`,
      running: false,
      current: false,
      live: {},
    },
  ];
  if (n.initialized)
    refs.push({
      addr: KVM_SVM_HOST.VMCB02,
      owner: lane,
      runs: l2,
      role: `vmcb${lane}${l2}`,
      heldBy: `KVM's memory (svm->nested.vmcb02): vmcb${lane}${up} and vmcb${up}${l2} merged to run ${L(l2)}`,
      running: false,
      current: false,
      live: {},
      provenance: n.provenance,
    });
  if (n.lastVmcb12Gpa)
    refs.push({
      addr: n.lastVmcb12Gpa,
      owner: up,
      runs: l2,
      role: `vmcb${up}${l2}`,
      heldBy: guestMode
        ? `${L(up)}'s memory: the VMCB of ${L(up)}'s VMRUN, which KVM emulates; it is written at the #VMEXIT ${L(up)} sees`
        : `${L(up)}'s memory: the VMCB of ${L(up)}'s last VMRUN; KVM wrote ${L(l2)}'s state and the exit into it`,
      running: false,
      current: false,
      live: {},
    });
  return refs;
}

/**
 * Where VMCBs come from, in order; the first source to name a VMCB (by owner and address) gives
 * its role. Hypervisor models that keep VMCBs (KVM's vmcb01/vmcb02 and the vmcb12 it emulates)
 * come before the processor's.
 */
export const VMCB_SOURCES: VmcbSource[] = [kvmVmcbs, processorVmcb];

function collect(c: CompiledScenario, s: SimState): VmcbRef[] {
  const out: VmcbRef[] = [];
  for (const source of VMCB_SOURCES) {
    for (const ref of source(c, s)) {
      const same = out.find((r) => r.owner === ref.owner && r.addr === ref.addr);
      if (!same) out.push(ref);
      else {
        // The processor's facts about a VMCB a hypervisor already named.
        same.running ||= ref.running;
        same.current ||= ref.current;
        same.live = { ...ref.live, ...same.live };
      }
    }
  }
  return out;
}

function hexOf(f: VmcbField, lo: number, hi: number): string {
  if (f.size === 8 && hi !== 0) return '0x' + hi.toString(16) + lo.toString(16).padStart(8, '0');
  return '0x' + lo.toString(16).padStart(f.size === 8 ? 1 : f.size * 2, '0');
}

interface Raw {
  value: number;
  hex: string;
  live: boolean;
}

/** The fields' values: memory, or the processor's copy where it holds one. */
function readFields(c: CompiledScenario, s: SimState, ref: VmcbRef): Map<string, Raw> {
  const out = new Map<string, Raw>();
  const lane = c.lanes[ref.owner];
  const bytes = lane ? s.mems[lane.program]?.bytes : undefined;
  if (!bytes) return out;
  const d = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const f of VMCB_FIELDS) {
    const at = ref.addr + f.offset;
    if (at < 0 || at + f.size > bytes.length) continue;
    const held = ref.live[f.name];
    let lo: number;
    let hi = 0;
    if (held !== undefined) lo = held >>> 0;
    else if (f.size === 1) lo = d.getUint8(at);
    else if (f.size === 2) lo = d.getUint16(at, true);
    else {
      lo = d.getUint32(at, true);
      if (f.size === 8) hi = d.getUint32(at + 4, true);
    }
    out.set(f.name, { value: hi * 0x100000000 + lo, hex: hexOf(f, lo, hi), live: held !== undefined });
  }
  return out;
}

/**
 * Every VMCB the run knows at `cur`, each field with its reading; with `prev` (the state one
 * step before), the fields that differ carry their earlier value.
 */
export function describeVmcbs(c: CompiledScenario, prev: SimState | null, cur: SimState): VmcbView[] {
  const refs = collect(c, cur);
  if (refs.length === 0) return [];
  const before = prev ? collect(c, prev) : [];
  return refs.map((ref) => {
    const fields = readFields(c, cur, ref);
    // A VMCB the step before did not know yet (its first VMRUN) is compared with the same page
    // of memory then.
    const old =
      before.find((r) => r.owner === ref.owner && r.addr === ref.addr && r.role === ref.role) ??
      ({ ...ref, live: {} } satisfies VmcbRef);
    const was = prev ? readFields(c, prev, old) : null;
    const lane = c.lanes[ref.owner];
    const view: VmcbFieldView[] = [];
    for (const f of VMCB_FIELDS) {
      const v = fields.get(f.name);
      if (!v) continue;
      const row: VmcbFieldView = {
        name: f.name,
        offset: f.offset,
        size: f.size,
        area: f.area,
        value: v.value,
        hex: v.hex,
        summary: vmcbFieldSummary(f.name, v.value),
      };
      const from = ref.provenance?.[f.offset];
      if (from) row.from = from;
      if (v.live) row.live = true;
      const w = was?.get(f.name);
      if (w && w.hex !== v.hex) {
        row.prevValue = w.value;
        row.prevHex = w.hex;
      }
      view.push(row);
    }
    return {
      addr: ref.addr,
      label: lane && lane.kind !== 'kvm' ? labelAt(c, lane.program, ref.addr) : null,
      role: ref.role,
      owner: ref.owner,
      runs: ref.runs,
      heldBy: ref.heldBy,
      running: ref.running,
      current: ref.current,
      compared: was !== null,
      fields: view,
    };
  });
}

/**
 * One field of a VMCB the run knows (by role, or the processor's: the last VMRUN's), as the panel
 * shows it (the processor's int_ctl while the guest runs); null when there is no such VMCB.
 */
export function vmcbFieldValue(
  c: CompiledScenario,
  s: SimState,
  name: string,
  role: string | null,
): number | null {
  const refs = collect(c, s);
  const ref = role === null ? refs.find((r) => r.current) : refs.find((r) => r.role === role);
  if (!ref) return null;
  return readFields(c, s, ref).get(name)?.value ?? null;
}
