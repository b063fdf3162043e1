// Turning state and trace records into the views the faces show (see view.ts).
import { REG64 } from '../asm/ir';
import { deliverableVector, ppr, vectorsOf } from '../cpu/apic';
import { pendingDebugBits } from '../cpu/debug';
import { systemRegs } from './describe-regs';
import { Activity, RFLAGS, RSP, Shadow } from '../cpu/state';
import { fieldByEncoding } from '../vmx/fields';
import { currentVmcs, timerRemaining } from '../vmx/state';
import { type VmcsState } from '../vmx/vmcs';
import { KVM_HOST, laneRunBy } from '../hypervisors/kvm/context';
import { currentVmcs12 } from '../hypervisors/kvm/nested-state';
import { F, readField } from '../vmx/vmcs';
import type { CompiledScenario } from '../scenario/load';
import { svmExitName } from '../svm/exit-codes';
import { KVM_SVM_HOST } from '../hypervisors/kvm/svm-state';
import { EFER, INT_CTL } from '../svm/bits';
import { VMCB } from '../svm/vmcb';
import type { KvmState } from '../hypervisors/kvm/state';
import type { SimState } from './machine';
import type { Trace } from './trace';
import {
  EVENT_KIND_NAMES,
  EventKind,
  type KvmView,
  type LevelView,
  type TraceEventView,
  type VmcsView,
  type VmxView,
} from './view';

export const hex = (v: number, digits = 0): string => '0x' + (v >>> 0).toString(16).padStart(digits, '0');

export function hex64(lo: number, hi: number): string {
  return '0x' + (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

export function levelName(c: CompiledScenario, lane: number): string {
  return c.lanes[lane].name;
}

/** Label names by address in a program, for naming VMCS regions and handlers. */
export function labelAt(c: CompiledScenario, program: number, addr: number): string | null {
  for (const [name, a] of Object.entries(c.programs[program].labels)) if (a === addr) return name;
  return null;
}

/** A VMCS of the KVM at `kvmLane`: the processor's at L0, else the copy the KVM below caches. */
function kvmVmcs(s: SimState, kvmLane: number, addr: number): VmcsState | null {
  if (kvmLane === 0) return s.vmx.vmcs[addr] ?? null;
  return s.kvms[kvmLane - 1]?.nested.vmcs12[addr] ?? null;
}

/** The lane a VMCS of `owner` runs. */
function runsOf(s: SimState, owner: number, addr: number): number {
  return laneRunBy(s.kvms, owner, addr);
}

/**
 * Where a level that is not running keeps its state: a VMCS area, named by its role
 * ("vmcsAB": made by LA to run LB). L0, or a program hypervisor, waits in the host-state area
 * of the VMCS that runs its guest; a guest in the guest-state area of the VMCS that runs it.
 * Under KVM's nested VMX the VMCS of a level above KVM is KVM's cached copy: its host-state
 * area while KVM runs that level's guest, else the guest-state area of KVM's vmcs01 for it.
 */
export function restingArea(
  c: CompiledScenario,
  s: SimState,
  lane: number,
): { vmcs: VmcsState; area: 'host' | 'guest'; role: string } | null {
  const info = c.lanes[lane];
  if (lane === 0 || !c.lanes[lane - 1]) {
    const v = currentVmcs(s.vmx);
    if (!v) return null;
    const role = `vmcs0${runsOf(s, 0, v.addr)}`;
    return info.kind === 'guest' ? { vmcs: v, area: 'guest', role } : { vmcs: v, area: 'host', role };
  }
  const below = lane - 1;
  const k = s.kvms[below];
  if (k) {
    const n = k.nested;
    const mine = currentVmcs12(n);
    if (n.guestMode && mine) return { vmcs: mine, area: 'host', role: `vmcs${lane}${n.l2Lane}` };
    const v = kvmVmcs(s, below, KVM_HOST.VMCS01);
    return v ? { vmcs: v, area: 'guest', role: `vmcs${below}${lane}` } : null;
  }
  // The own guest of a program hypervisor at `below`.
  if (below === 0) {
    const v = currentVmcs(s.vmx);
    return v ? { vmcs: v, area: 'guest', role: `vmcs0${lane}` } : null;
  }
  const k2 = s.kvms[below - 1];
  if (!k2) return null;
  if (k2.nested.guestMode && k2.nested.l2Lane === lane) {
    const v = kvmVmcs(s, below - 1, KVM_HOST.VMCS02);
    return v ? { vmcs: v, area: 'guest', role: `vmcs${below - 1}${lane}` } : null;
  }
  const v = currentVmcs12(k2.nested);
  return v ? { vmcs: v, area: 'guest', role: `vmcs${below}${lane}` } : null;
}

export function describeLevel(c: CompiledScenario, s: SimState, lane: number): LevelView {
  const info = c.lanes[lane];
  const prog = c.programs[info.program];
  const cpu = s.cpu;
  const running = s.lane === lane;
  const book = running ? cpu : s.books[lane];
  let rip = cpu.rip;
  let rflags = cpu.rflags;
  let shadow = cpu.shadow;
  let nmiBlocked = cpu.nmiBlocked;
  let vnmiBlocked = cpu.vnmiBlocked;
  let activity: number = cpu.activity;
  let pendingDebug = pendingDebugBits(cpu);
  let rsp: string | null = null;
  const rest = running ? null : restingArea(c, s, lane);
  if (rest && rest.area === 'host') {
    // The host waits for its guest's VM exit: it resumes at HOST_RIP with RFLAGS 0x2.
    const v = rest.vmcs;
    rip = readField(v, F.HOST_RIP);
    rflags = RFLAGS.FIXED;
    shadow = 0;
    // Blocking by NMI is the processor's: with NMI exiting = 0 it goes with the VM exit to the
    // host as it is (vm-exit.ts); with NMI exiting = 1 the host is not blocked after the exit.
    const nmiExiting = (readField(v, F.PIN_BASED_VM_EXEC_CONTROL) & 0x08) !== 0;
    nmiBlocked = lane === 0 && !nmiExiting && cpu.nmiBlocked;
    vnmiBlocked = false;
    activity = Activity.ACTIVE;
    pendingDebug = 0;
    rsp = hex64(readField(v, F.HOST_RSP) >>> 0, Math.floor(readField(v, F.HOST_RSP) / 0x100000000));
  } else if (rest) {
    // A guest that is not running is its VMCS guest-state area.
    const v = rest.vmcs;
    rip = readField(v, F.GUEST_RIP);
    rflags = readField(v, F.GUEST_RFLAGS) || RFLAGS.FIXED;
    const intr = readField(v, F.GUEST_INTERRUPTIBILITY_INFO);
    shadow = intr & 3;
    const virtualNmis = (readField(v, F.PIN_BASED_VM_EXEC_CONTROL) & 0x20) !== 0;
    nmiBlocked = !virtualNmis && (intr & 8) !== 0;
    vnmiBlocked = virtualNmis && (intr & 8) !== 0;
    activity = readField(v, F.GUEST_ACTIVITY_STATE);
    pendingDebug = readField(v, F.GUEST_PENDING_DBG_EXCEPTIONS);
    rsp = hex64(readField(v, F.GUEST_RSP) >>> 0, Math.floor(readField(v, F.GUEST_RSP) / 0x100000000));
  } else if (!running && info.kind === 'guest') {
    rip = 0;
    rflags = RFLAGS.FIXED;
    pendingDebug = 0;
  } else if (!running) pendingDebug = 0;
  const off = rip - prog.origin;
  const idx = off >= 0 && off < prog.indexAt.length ? prog.indexAt[off] : -1;
  const ins = idx >= 0 ? prog.instrs[idx] : null;
  // A level run by KVM sees the APIC KVM emulates for its vCPU, and KVM's pending NMIs. L2 of a
  // program hypervisor has no APIC of its own: it reaches L1's through the MSRs L1 lets through.
  // A level above KVM sees the APIC KVM emulates for it (the guest of a program hypervisor
  // reaches its host's through the MSRs its host lets through).
  let owner = lane - 1;
  while (owner >= 0 && !s.kvms[owner]) owner--;
  const host = lane > 0 && owner >= 0 ? s.kvms[owner] : null;
  // Right above Xen, the vCPU's APIC is the vLAPIC Xen emulates.
  const aboveXen = lane > 0 && c.lanes[lane - 1]?.kind === 'xen' && s.xen;
  const apic = aboveXen ? s.xen!.vlapic : host ? host.lapic : s.apic;
  const pendingVector = deliverableVector(apic);
  const irr = vectorsOf(apic.irr);
  return {
    index: lane,
    name: levelName(c, lane),
    kind: info.kind,
    cpu: {
      regs: REG64.map((name, r) => ({
        name,
        value: r === RSP && rsp !== null ? rsp : hex64(cpu.regs[2 * r], cpu.regs[2 * r + 1]),
      })),
      rip,
      rflags,
      if: (rflags & RFLAGS.IF) !== 0,
      tf: (rflags & RFLAGS.TF) !== 0,
      interruptibility: {
        sti: (shadow & Shadow.STI) !== 0,
        movss: (shadow & Shadow.MOVSS) !== 0,
        nmi: nmiBlocked || vnmiBlocked,
      },
      activity: activity === Activity.HLT ? 'hlt' : activity === Activity.SHUTDOWN ? 'shutdown' : 'active',
      running,
      mode: !s.vmx.on && !s.vmx.nonRoot ? 'bare' : info.kind === 'guest' ? 'non-root' : 'root',
      vnmiBlocked,
      pendingDebug,
      pending: {
        nmi: host ? host.nmiPending + host.nmiQueued > 0 : cpu.nmiPending,
        intr: pendingVector >= 0 ? pendingVector : irr.length ? irr[irr.length - 1] : null,
      },
      system: systemRegs(cpu, rest, running, apic.tpr),
      workRemaining: book.workRemaining,
      tsc: s.time,
      handlerDepth: book.frames.length / 3,
      nmiDepth: framesNmiDepth(book.frames),
    },
    apic: { irr, isr: vectorsOf(apic.isr), tpr: apic.tpr, ppr: ppr(apic) },
    kvm:
      info.kind === 'kvm' && s.kvms[lane]
        ? describeKvm(c, s.kvms[lane]!, s.lane > lane, lane, s.mems[info.program]?.bytes)
        : null,
    restingIn: rest
      ? `${rest.area === 'host' ? 'the host-state area' : 'the guest-state area'} of ${rest.role}`
      : null,
    line: ins ? ins.line : null,
    nextInstruction: ins ? ins.text : null,
  };
}

function framesNmiDepth(frames: number[]): number {
  let d = 0;
  for (let i = 2; i < frames.length; i += 3) if (frames[i] === 2) d++;
  return d;
}

function fieldsOf(v: VmcsState): VmcsView['fields'] {
  return Object.keys(v.fields)
    .map(Number)
    .sort((a, b) => a - b)
    .map((encoding) => ({
      encoding,
      name: fieldByEncoding(encoding)?.name ?? `0x${encoding.toString(16)}`,
      value: v.fields[encoding],
    }));
}

/**
 * The processor's VMX state and every VMCS of the stack, named by who made it for whom
 * ("vmcsAB": LA's VMCS to run LB): the processor's (in L0's memory: vmcs01, and KVM's merged
 * vmcs02 with where each field came from), then the VMCSs each KVM emulates for the level
 * above it (its cached vmcs12s).
 */
export function describeVmx(c: CompiledScenario, s: SimState): VmxView {
  const vmx = s.vmx;
  const view = (v: VmcsState, owner: number, heldBy: number, current: boolean): VmcsView => {
    const runs = runsOf(s, owner, v.addr);
    const kvm = s.kvms[owner];
    const merged = kvm !== null && kvm !== undefined && v.addr === KVM_HOST.VMCS02;
    // A shadow VMCS (KVM's, for L1's VMCS shadowing) runs nobody: it mirrors the VMCS the level
    // above reads and writes through it.
    const mirrored = kvm ? kvm.nested.currentVmptr : -1;
    const role = v.shadow
      ? `shadow of vmcs${owner + 1}${runsOf(s, owner + 1, mirrored)}`
      : `vmcs${owner}${runs}`;
    return {
      addr: v.addr,
      label:
        c.lanes[owner] && c.lanes[owner].kind !== 'kvm' ? labelAt(c, c.lanes[owner].program, v.addr) : null,
      role,
      launched: v.launched,
      current,
      owner,
      runs,
      heldBy: heldBy < 0 ? 'the processor' : `${levelName(c, heldBy)} (its cached copy of L${owner}'s VMCS)`,
      provenance: merged ? { ...kvm.nested.provenance } : null,
      fields: fieldsOf(v),
    };
  };
  const all: VmcsView[] = Object.values(vmx.vmcs)
    .sort((a, b) => a.addr - b.addr)
    .map((v) => view(v, 0, -1, vmx.current === v.addr));
  s.kvms.forEach((k, lane) => {
    if (!k) return;
    for (const v of Object.values(k.nested.vmcs12).sort((a, b) => a.addr - b.addr))
      all.push(view(v, lane + 1, lane, k.nested.currentVmptr === v.addr));
  });
  const remaining =
    vmx.nonRoot && vmx.timerDeadline >= 0
      ? timerRemaining(vmx, s.time, c.scenario.features.vmx.preemptionTimerRate)
      : null;
  return {
    on: vmx.on,
    nonRoot: vmx.nonRoot,
    preemptionTimer: remaining,
    mtfPending: vmx.mtfPending,
    vmcs: all,
  };
}

/** Named data of a trace record, per kind. */
export function eventData(kind: number, d0: number, d1: number, d2: number): Record<string, number> {
  switch (kind) {
    case EventKind.INSTR:
      return { instruction: d0 };
    case EventKind.IRET:
      return { instruction: d0, returnRip: d2 };
    case EventKind.ASSERT:
      return { instruction: d0, passed: d1 };
    case EventKind.DELIVER: {
      const data: Record<string, number> = {
        vector: d0 & 0xff,
        type: (d0 >>> 8) & 7,
        handler: d2,
        wokeFromHlt: (d0 >>> 25) & 1,
      };
      if (d0 & (1 << 11)) data.errorCode = d1;
      if (d0 & (1 << 24)) data.originalVector = (d0 >>> 16) & 0xff;
      return data;
    }
    case EventKind.RAISE:
      return {
        vector: d0 & 0xff,
        type: (d0 >>> 8) & 7,
        event: d1,
        whileHalted: d2 & 1,
        kicked: (d2 >>> 1) & 1,
        target: d2 >>> 8,
      };
    case EventKind.SHUTDOWN:
      return { vector: d0 & 0xff, type: (d0 >>> 8) & 7 };
    case EventKind.VMENTRY:
      return { injected: d0, launch: d1, guestRip: d2 };
    case EventKind.VMEXIT:
      return { reason: d0, intrInfo: d1, vectoringInfo: d2 };
    case EventKind.DECISION:
      return { function: d0, a: d1, b: d2 };
    case EventKind.EDIT:
      return { group: d0, edits: d1 };
    default:
      return {};
  }
}

export function describeEvent(t: Trace, step: number): TraceEventView | null {
  if (step < 1 || step > t.length) return null;
  const i = step - 1;
  const kind = t.kind[i];
  return {
    step,
    time: t.time[i],
    level: t.level[i],
    kind: EVENT_KIND_NAMES[kind],
    rip: t.rip[i],
    data: eventData(kind, t.d0[i], t.d1[i], t.d2[i]),
  };
}

/** The same phases on an AMD processor (kvm_amd: svm.c's functions). */
const SVM_PHASES = [
  'setting up (svm_hardware_enable, svm_vcpu_create)',
  'vcpu_enter_guest',
  'svm_vcpu_run',
  'after a #VMEXIT (STGI, svm_complete_interrupts)',
  'svm_handle_exit',
  'kvm_vcpu_block (vCPU halted)',
  'stopped',
];

const PHASES = [
  'setting up (hardware_enable, vmx_vcpu_create)',
  'vcpu_enter_guest',
  'vmx_vcpu_run',
  'after a VM exit',
  '__vmx_handle_exit',
  'kvm_vcpu_block (vCPU halted)',
  'stopped',
];

export function describeKvm(
  c: CompiledScenario,
  k: KvmState,
  guestRunning: boolean,
  lane = 0,
  /** KVM's memory (its VMCBs, on AMD), for the GIF of the level above. */
  mem?: Uint8Array,
): KvmView {
  const l0 = c.scenario.levels[c.lanes[lane].level];
  const svm = c.scenario.arch === 'svm';
  const requests: string[] = [];
  if (k.reqEvent) requests.push('KVM_REQ_EVENT');
  if (k.reqNmi) requests.push('KVM_REQ_NMI');
  if (k.immediateExit) requests.push('immediate exit');
  return {
    phase: svm
      ? guestRunning
        ? 'the guest runs (in svm_vcpu_run)'
        : (SVM_PHASES[k.phase] ?? String(k.phase))
      : guestRunning
        ? 'the guest runs (in vmx_vcpu_run)'
        : (PHASES[k.phase] ?? String(k.phase)),
    enableVnmi: k.enableVnmi,
    era: l0.kind === 'kvm' ? l0.options.era : 'current',
    halted: k.halted,
    nmiQueued: k.nmiQueued,
    nmiPending: k.nmiPending,
    nmiInjected: k.nmiInjected,
    irqInjected: k.irqInjected ? k.irqVector : null,
    requests,
    softVnmiBlocked: k.softVnmiBlocked,
    vnmiBlockedTimeNs: k.vnmiBlockedTimeNs,
    lastExitReason: k.lastExitReason,
    hostIrqs: k.hostIrqs,
    nested: describeNested(k),
    log: k.log.slice(-20),
    svm: svm
      ? {
          vnmi: k.svm.vnmi,
          nmiMasked: k.svm.nmiMasked,
          awaitingIretCompletion: k.svm.awaitingIretCompletion,
          nmiIretRip: k.svm.nmiIretRip,
          nmiSinglestep: k.svm.nmiSinglestep,
          lastExit: k.svm.exitCode === -1 ? 'none' : svmExitName(k.svm.exitCode >>> 0),
          nested: describeNestedSvm(k, lane, mem),
        }
      : null,
  };
}

/**
 * struct svm_nested_state as the KVM panel shows it, or null before the level above enables
 * SVM. Its GIF is V_GIF of the VMCB get_vgif_vmcb names (vmcb02 in guest mode unless that level
 * uses vGIF itself, else vmcb01), read from KVM's memory.
 */
function describeNestedSvm(
  k: KvmState,
  lane: number,
  mem?: Uint8Array,
): NonNullable<KvmView['svm']>['nested'] {
  const n = k.svm.nested;
  if (!n.initialized) return null;
  const guestMode = k.nested.guestMode;
  const vgif = (n.ctl.intCtl & INT_CTL.V_GIF_ENABLE_MASK) !== 0;
  const at = (guestMode && !vgif ? KVM_SVM_HOST.VMCB02 : KVM_SVM_HOST.VMCB01) + VMCB.INT_CTL;
  const intCtl =
    mem && at + 4 <= mem.length ? new DataView(mem.buffer, mem.byteOffset).getUint32(at, true) : 0;
  return {
    svme: (k.svm.efer & EFER.SVME) !== 0,
    guestMode,
    l2: k.nested.l2Lane >= 0 ? k.nested.l2Lane : lane + 2,
    runPending: k.nested.runPending,
    vmcb12: n.lastVmcb12Gpa,
    hsave: n.hsaveMsr,
    gif: (intCtl & INT_CTL.V_GIF_MASK) !== 0,
  };
}

/** struct nested_vmx as the KVM panel shows it, or null before L1 executes VMXON. */
function describeNested(k: KvmState): KvmView['nested'] {
  const n = k.nested;
  if (!n.vmxon && Object.keys(n.vmcs12).length === 0) return null;
  return {
    vmxon: n.vmxon,
    currentVmptr: n.currentVmptr,
    guestMode: n.guestMode,
    runPending: n.runPending,
    preemptionTimerExpired: n.preemptionTimerExpired,
    preemptionTimerDeadline: n.preemptionTimerDeadline,
    mtfPending: n.mtfPending,
  };
}
