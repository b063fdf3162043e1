// Applying a fork's edits in the run (docs/compare.md). The edits due after step N form one
// trace event of their own (EventKind.EDIT, step N+1), "edited by the user", and the run goes
// on from the edited state. The change is a pure function of the state, so seeking — which
// restores a checkpoint and replays — applies it again, and the fork's checkpoints after the
// edit hold the edited future.
//
// An edit writes what software or the platform could write: a register of the level as its
// CPU panel shows it (the processor's while the level runs; the VMCS area it rests in while it
// waits), a VMCS field as VMWRITE would (controls and guest-state fields take effect at the
// next VM entry, as on hardware), an IRR bit or a pending NMI or interrupt raised at a level's
// interrupt controller as the scenario's external events raise them.
import { REG64 } from '../asm/ir';
import type { Hart } from '../cpu/hart';
import { type CpuState, RFLAGS, RSP, Shadow } from '../cpu/state';
import { describeVmx, restingArea } from '../engine/describe';
import type { SimState, StepEdits } from '../engine/machine';
import { EventKind } from '../engine/view';
import { currentVmcs } from '../vmx/state';
import { F, type VmcsState, readField, writeField } from '../vmx/vmcs';
import type { CompiledScenario, ExternalRaise } from './load';
import type { EditTarget, ResolvedEdit } from './fork';

/** Guest-interruptibility bits (SDM "Guest Non-Register State"). */
const INTR = { STI: 1, MOVSS: 2, NMI: 8 } as const;
/** Pin-based "virtual NMIs". */
const PIN_VIRTUAL_NMIS = 0x20;

/** Bits hi..lo of `old` replaced by `v`. */
function withBits(old: bigint, bits: readonly [number, number] | null, v: bigint): bigint {
  if (!bits) return v;
  const [hi, lo] = bits;
  const mask = ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
  return (old & ~mask) | ((v << BigInt(lo)) & mask);
}

function readVmcs64(v: VmcsState, enc: number): bigint {
  return BigInt(readField(v, enc));
}

/** The VMCS a `vmcs` target names at state `s`: the current one, or the one with that role. */
function vmcsOf(c: CompiledScenario, s: SimState, role: string | null): VmcsState | null {
  if (role === null) return currentVmcs(s.vmx);
  const view = describeVmx(c, s).vmcs.find((x) => x.role === role);
  if (!view) return null;
  // A VMCS made by L0 is the processor's; one made above it, the cached copy of the KVM below.
  if (view.owner === 0) return s.vmx.vmcs[view.addr] ?? null;
  return s.kvms[view.owner - 1]?.nested.vmcs12[view.addr] ?? s.vmx.vmcs[view.addr] ?? null;
}

type Change = () => void;

/**
 * What an edit would do at state `s`: a change to run, or why it cannot be made there (a
 * target that does not exist at that step).
 */
function locate(
  c: CompiledScenario,
  s: SimState,
  e: ResolvedEdit,
  raiseEvent: (r: ExternalRaise) => void,
): Change | string {
  const t: EditTarget = e.target;
  const v = BigInt(e.value);
  if (t.w === 'vmcs') {
    const vmcs = vmcsOf(c, s, t.role);
    if (!vmcs)
      return t.role
        ? `there is no ${t.role} at step ${e.step}`
        : `there is no current VMCS at step ${e.step}`;
    return () => writeField(vmcs, t.encoding, Number(withBits(readVmcs64(vmcs, t.encoding), t.bits, v)));
  }
  if (t.w === 'irr') {
    if (t.level > 0)
      return () => raiseEvent({ index: 0xffff, target: t.level, nmi: false, vector: t.vector, note: null });
    return () => {
      const w = t.vector >>> 5;
      const bit = 1 << (t.vector & 31);
      s.apic.irr[w] = v ? s.apic.irr[w] | bit : s.apic.irr[w] & ~bit;
    };
  }
  if (t.w === 'nmi') {
    if (t.level === 0) return () => void (s.cpu.nmiPending = v === 1n);
    return () => raiseEvent({ index: 0xffff, target: t.level, nmi: true, vector: 2, note: null });
  }
  if (t.w === 'irq')
    return () => raiseEvent({ index: 0xffff, target: t.level, nmi: false, vector: Number(v), note: null });
  return locateReg(c, s, e, t, v);
}

function locateReg(
  c: CompiledScenario,
  s: SimState,
  e: ResolvedEdit,
  t: EditTarget & { w: 'reg' },
  v: bigint,
): Change | string {
  const lane = t.level!;
  const cpu: CpuState = s.cpu;
  const reg = t.reg;
  const gpr = (REG64 as readonly string[]).indexOf(reg);
  const running = s.lane === lane;
  const rest = running ? null : restingArea(c, s, lane);
  if (!running && !rest)
    return `L${lane} neither runs nor rests in a VMCS at step ${e.step} (it has not started)`;
  if (gpr >= 0 && (running || gpr !== RSP)) {
    // The general registers are the processor's: a resting level's are those the panel shows.
    return () => {
      const old = (BigInt(cpu.regs[2 * gpr + 1]) << 32n) | BigInt(cpu.regs[2 * gpr]);
      const n = withBits(old, t.bits, v);
      cpu.regs[2 * gpr] = Number(n & 0xffffffffn);
      cpu.regs[2 * gpr + 1] = Number(n >> 32n);
    };
  }
  const host = rest?.area === 'host';
  const vmcs = rest?.vmcs;
  const field = (g: number, h: number | null) => (host ? h : g);
  const vmcsWrite =
    (enc: number): Change =>
    () =>
      writeField(vmcs!, enc, Number(withBits(readVmcs64(vmcs!, enc), t.bits, v)));
  if (gpr === RSP) return vmcsWrite(field(F.GUEST_RSP, F.HOST_RSP)!);
  if (reg === 'rip') {
    if (running) return () => void (cpu.rip = Number(withBits(BigInt(cpu.rip), t.bits, v)));
    return vmcsWrite(field(F.GUEST_RIP, F.HOST_RIP)!);
  }
  const hostNote = `L${lane} waits for its guest's VM exit, which loads it (SDM "Loading Host RIP, RSP, and RFLAGS"; "Loading Host State"): edit it while it runs`;
  if (reg === 'rflags') {
    if (running)
      return () => void (cpu.rflags = Number(withBits(BigInt(cpu.rflags), t.bits, v)) | RFLAGS.FIXED);
    if (host) return `${t.label}: ${hostNote}`;
    return vmcsWrite(F.GUEST_RFLAGS);
  }
  // The interruptibility state (SDM "Interruptibility State"): the processor's while the level
  // runs, the guest's GUEST_INTERRUPTIBILITY_INFO while it rests.
  if (host) return `${t.label}: ${hostNote}`;
  const on = v === 1n;
  if (reg === 'blocking_by_nmi') {
    if (running) {
      const virtualNmis = s.vmx.nonRoot && (s.vmx.pin & PIN_VIRTUAL_NMIS) !== 0;
      return () => {
        if (virtualNmis) cpu.vnmiBlocked = on;
        else cpu.nmiBlocked = on;
      };
    }
    return setBit(vmcs!, INTR.NMI, on);
  }
  const shadow = reg === 'blocking_by_sti' ? Shadow.STI : Shadow.MOVSS;
  if (running) return () => void (cpu.shadow = on ? cpu.shadow | shadow : cpu.shadow & ~shadow);
  return setBit(vmcs!, reg === 'blocking_by_sti' ? INTR.STI : INTR.MOVSS, on);
}

function setBit(vmcs: VmcsState, bit: number, on: boolean): Change {
  return () => {
    const old = readField(vmcs, F.GUEST_INTERRUPTIBILITY_INFO);
    writeField(vmcs, F.GUEST_INTERRUPTIBILITY_INFO, on ? old | bit : old & ~bit);
  };
}

/** A fork's edits as the engine applies them (machine.ts StepEdits). */
export class ForkPlan implements StepEdits {
  /** Edit groups by the step they follow; a group is one trace event. */
  readonly groups: ResolvedEdit[][] = [];
  private readonly byStep = new Map<number, number>();
  /** Per group: why it could not be applied, when it could not (set while the fork runs). */
  readonly failures = new Map<number, string>();

  constructor(
    private readonly c: CompiledScenario,
    readonly edits: ResolvedEdit[],
  ) {
    for (const e of [...edits].sort((a, b) => a.step - b.step || a.index - b.index)) {
      const g = this.byStep.get(e.step);
      if (g === undefined) {
        this.byStep.set(e.step, this.groups.length);
        this.groups.push([e]);
      } else this.groups[g].push(e);
    }
  }

  apply(s: SimState, h: Hart, raiseEvent: (e: ExternalRaise) => void): number {
    const g = this.byStep.get(s.step);
    if (g === undefined) return -1;
    const changes: Change[] = [];
    for (const e of this.groups[g]) {
      const r = locate(this.c, s, e, raiseEvent);
      if (typeof r === 'string') {
        this.failures.set(g, `edit ${e.index + 1} ('${e.text}'): ${r}`);
        return -1;
      }
      changes.push(r);
    }
    for (const ch of changes) ch();
    const first = this.groups[g][0].target;
    const o = h.out;
    o.kind = EventKind.EDIT;
    o.rip = s.cpu.rip;
    o.d0 = g;
    o.d1 = this.groups[g].length;
    o.d2 = 0;
    const lane = 'level' in first && first.level !== null ? first.level : s.lane;
    return lane;
  }
}
