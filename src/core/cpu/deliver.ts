// Delivery of interrupts, NMIs and exceptions through the IDT, and IRET. SDM Vol. 3A chapter
// "Interrupt and Exception Handling": "64-Bit Mode Stack Frame", "IDT Descriptors",
// "Interrupt 8—Double Fault Exception (#DF)", "NMI Handling".
import { EventKind, EventType } from '../engine/view';
import type { Hart } from './hart';
import { checkStack } from './memory';
import { EXCEPTION_VECTORS } from '../vmx/exceptions';
import { type ExitInfo, ExitReason, vmExit } from '../vmx/vm-exit';
import {
  svmDoubleFaultExit,
  svmExceptionExit,
  svmExceptionIntercepted,
  svmNestedFaultExit,
  svmNmiDelivered,
} from '../svm/delivery';
import { debugDelivered } from './debug';
import { iretExitUnblocking } from './iret';
import { push64 } from './stack';
import { PIN_BASED } from '../vmx/bits';
import { Activity, KERNEL_CS, RFLAGS, RSP, regNumber, setRegNumber } from './state';

export const Vector = {
  DE: 0,
  DB: 1,
  NMI: 2,
  BP: 3,
  UD: 6,
  DF: 8,
  TS: 10,
  NP: 11,
  SS: 12,
  GP: 13,
  PF: 14,
} as const;

/** Exceptions that push an error code (SDM "Exceptions and Interrupts" table, vmx/exceptions.ts). */
export function hasErrorCode(vector: number, type: number): boolean {
  return type === EventType.HW_EXCEPTION && EXCEPTION_VECTORS[vector]?.errorCode === true;
}

/** The interruption-information word of a hardware exception (SDM "Format of the VM-Entry
 *  Interruption-Information Field"): valid, type 3, and bit 11 when the vector pushes an error code. */
export function hwExceptionInfo(vector: number): number {
  return (0x80000300 | (hasErrorCode(vector, EventType.HW_EXCEPTION) ? 0x800 : 0) | vector) >>> 0;
}

/**
 * Fault-class exceptions (SDM "Exception and Interrupt Reference"): #DE, #BR, #UD, #NM, #TS,
 * #NP, #SS, #GP, #PF, #MF, #AC, #XM, #VE, #CP. #DB is left out: its fault-like forms
 * (instruction breakpoint, general detect) push RF as it is.
 */
const FAULT_VECTORS = new Set([0, 5, 6, 7, 10, 11, 12, 13, 14, 16, 17, 19, 20, 21]);

/**
 * The RF the processor pushes (SDM "Instruction-Breakpoint Exception Condition"): 1 for a
 * fault-class exception it raises and for an interrupt that arrives between iterations of a
 * repeated instruction (the lab's interrupted `work`); otherwise RFLAGS.RF as it is. An
 * injected event pushes RFLAGS as the guest-state area had it.
 */
function pushedRf(h: Hart, vector: number, type: number, injected: boolean): number {
  if (injected) return 0;
  if (type === EventType.HW_EXCEPTION && FAULT_VECTORS.has(vector)) return RFLAGS.RF;
  if ((type === EventType.EXTINT || type === EventType.NMI) && h.cpu.workRemaining > 0) return RFLAGS.RF;
  return 0;
}

/** SDM "Interrupt 8—Double Fault Exception": contributory exceptions. */
function isContributory(vector: number, type: number): boolean {
  return type === EventType.HW_EXCEPTION && [0, 10, 11, 12, 13].includes(vector);
}

/** DELIVER data word: vector | type << 8 | error-code-valid << 11; an escalation adds the first vector << 16 | 1 << 24. */
export function deliverWord(vector: number, type: number, hasErr: boolean, firstVector = -1): number {
  return (
    (vector & 0xff) |
    (type << 8) |
    (hasErr ? 1 << 11 : 0) |
    (firstVector >= 0 ? ((firstVector & 0xff) << 16) | (1 << 24) : 0)
  );
}

function split(v: number): [number, number] {
  return [v >>> 0, Math.floor(v / 0x100000000) >>> 0];
}

/**
 * Deliver an event through the IDT of the running level, escalating as the SDM says when its
 * gate is missing: not-present gate → #NP (error code = vector·8 + IDT bit + EXT); a
 * contributory fault while delivering a contributory one → #DF; a fault while delivering #DF →
 * triple fault, the processor shuts down. Fills `h.out` with a DELIVER or SHUTDOWN record.
 * `returnRip` is the RIP pushed: the interrupted instruction for interrupts and faults, the
 * next one for traps and software interrupts. `instrRip` is the address of the INT n / INT3
 * that raised a software event; a fault while delivering it is pushed with that address.
 */
export interface DeliveryOptions {
  /** Address of the INT n / INT3 that raised a software event (faults are pushed with it). */
  instrRip?: number;
  /** The event was injected by VM entry: it is not subject to the exception bitmap. */
  injected?: boolean;
  /** Instruction length of a software event, for IDT-vectoring information. */
  instrLen?: number;
  /** For an injected event: its "deliver error code" bit (VM_ENTRY_INTR_INFO_FIELD bit 11). */
  deliverErrorCode?: boolean;
  /**
   * For a #DB the processor raises: its causes as DR6 bits (B3–B0, BD, BS). Delivered through
   * the IDT they go into DR6; a VM exit reports them as its exit qualification.
   */
  debugCause?: number;
  /**
   * The fault was raised by IRET, which did not complete: a VM exit for it clears blocking by
   * NMI (NMI exiting 0) or virtual-NMI blocking (virtual NMIs 1) and records in bit 12 of the
   * VM-exit interruption information that it was in effect (SDM "Architectural State before a
   * VM Exit"; "Information for VM Exits Due to Vectored Events").
   */
  iretFault?: boolean;
}

/**
 * A VM exit decided while delivering: at once, or — for the event a VM entry injects — kept
 * for the next step, so that the trace shows the entry and then the exit.
 */
function exitFromDelivery(h: Hart, info: ExitInfo, injected: boolean, nmi: boolean): void {
  if (nmi) {
    // "Architectural State before a VM Exit": an NMI whose delivery causes a VM exit (a nested
    // exception, double fault or triple fault that exits) blocks further NMIs before the exit
    // commences; for an NMI that VM entry injects with "virtual NMIs" = 1 it is virtual-NMI
    // blocking that is in effect. The exit saves it in bit 3 of the interruptibility state.
    if (virtualNmis(h)) h.cpu.vnmiBlocked = true;
    else h.cpu.nmiBlocked = true;
  }
  if (!injected) {
    vmExit(h, info);
    return;
  }
  h.vmx.pendingExit = {
    reason: info.reason,
    intrInfo: info.intrInfo ?? 0,
    intrError: info.intrError ?? 0,
    vectoringInfo: info.vectoringInfo ?? 0,
    vectoringError: info.vectoringError ?? 0,
    instructionLen: info.instructionLen ?? 0,
  };
}

/** An interruption-information word: vector, type, error-code-valid, valid (SDM "Information for VM Exits Due to Vectored Events"). */
export function intrInfo(vector: number, type: number, withErr: boolean): number {
  return ((vector & 0xff) | (type << 8) | (withErr ? 1 << 11 : 0) | 0x80000000) >>> 0;
}

function isException(type: number): boolean {
  return (
    type === EventType.HW_EXCEPTION || type === EventType.SW_EXCEPTION || type === EventType.PRIV_SW_EXCEPTION
  );
}

/** In VMX non-root operation, does this exception cause a VM exit (SDM "Exception Bitmap")? */
function exceptionExits(h: Hart, vector: number, type: number): boolean {
  if (h.svm.guest) return svmExceptionIntercepted(h, vector, type);
  if (!h.vmx.nonRoot || !isException(type) || vector > 31) return false;
  return ((h.vmx.exceptionBitmap >>> vector) & 1) === 1;
}

export interface Gate {
  target: number;
  kind: 'interrupt' | 'trap';
}

/**
 * Read the gate for `vector` from the IDT in memory at IDTR (SDM "64-Bit IDT Gate
 * Descriptors"): null when it is beyond the limit, not present, or not an interrupt or trap
 * gate. Programs assembled before IDTs lived in memory fall back to their gate table.
 */
export function readGate(h: Hart, vector: number): Gate | null {
  const prog = h.prog as { idtTables?: unknown };
  if (prog.idtTables === undefined) {
    const g = h.prog.idt[vector];
    return g ? { target: g.target, kind: g.kind } : null;
  }
  const base = h.cpu.idtr + vector * 16;
  const bytes = h.mem.bytes;
  if (base < 0 || base + 16 > bytes.length) return null;
  const attr = bytes[base + 5];
  const type = attr & 0xf;
  if (!(attr & 0x80) || (type !== 0xe && type !== 0xf)) return null;
  const lo = bytes[base] | (bytes[base + 1] << 8) | (bytes[base + 6] << 16) | (bytes[base + 7] << 24);
  const hi = bytes[base + 8] | (bytes[base + 9] << 8) | (bytes[base + 10] << 16) | (bytes[base + 11] << 24);
  return { target: (hi >>> 0) * 0x100000000 + (lo >>> 0), kind: type === 0xe ? 'interrupt' : 'trap' };
}

/**
 * Deliver an event through the IDT of the running level, escalating as the SDM says when its
 * gate is missing: not-present gate → #NP (error code = vector·8 + IDT bit + EXT); a
 * contributory fault while delivering a contributory one → #DF; a fault while delivering #DF →
 * triple fault: the processor shuts down, or in VMX non-root operation a VM exit (reason 2).
 * In non-root operation an exception the exception bitmap intercepts causes a VM exit instead
 * of its delivery; a nested fault intercepted that way records the event being delivered in
 * the IDT-vectoring information (SDM "Information for VM Exits That Occur During Event
 * Delivery"). Fills `h.out` with a DELIVER, SHUTDOWN or VMEXIT record. `returnRip` is the RIP
 * pushed: the interrupted instruction for interrupts and faults, the next one for traps and
 * software interrupts.
 */
export function deliverEvent(
  h: Hart,
  vector: number,
  type: number,
  errorCode: number,
  returnRip: number,
  opts: DeliveryOptions = {},
): void {
  const cpu = h.cpu;
  const instrRip = opts.instrRip ?? returnRip;
  let fromRip = returnRip;
  let v = vector,
    t = type,
    err = errorCode;
  let first = -1;
  if (!opts.injected && exceptionExits(h, v, t)) {
    // An exception raised in the guest: the exit saves the RIP of the instruction for faults
    // and software exceptions, with its length (SDM "VM-Exit Instruction Length").
    const soft = t === EventType.SW_EXCEPTION || t === EventType.PRIV_SW_EXCEPTION;
    cpu.rip = soft ? instrRip : fromRip;
    const withErr = hasErrorCode(v, t);
    if (h.svm.guest) return svmExceptionExit(h, v, err, withErr, soft ? returnRip : 0);
    // "Saving RIP, RSP, RFLAGS": RF is saved as the delivery would have pushed it.
    cpu.rflags |= pushedRf(h, v, t, false);
    // "Exit Qualification for VM Exits" due to a debug exception: B3–B0, BD, BS as DR6 would
    // have them; DR6 itself is not changed (SDM "Debug Exceptions" in "VM Exits").
    vmExit(h, {
      reason: ExitReason.EXCEPTION_NMI,
      qualification: v === Vector.DB && t === EventType.HW_EXCEPTION ? (opts.debugCause ?? 0) : 0,
      intrInfo: intrInfo(v, t, withErr) | (opts.iretFault ? iretExitUnblocking(h) : 0),
      intrError: withErr ? err : 0,
      instructionLen: soft ? (opts.instrLen ?? 0) : 0,
    });
    return;
  }
  let gate: Gate | null;
  for (;;) {
    gate = readGate(h, v);
    if (gate) break;
    // "IDT Descriptors": a gate that is not present raises #NP with the IDT bit (1) set in the
    // error code; EXT (bit 0) is set when the event was not caused by the program itself.
    // INT1 counts as external here (SDM "INT n/INTO/INT3/INT1": EXT is 0 only for INT n, INT3, INTO).
    const ext =
      t === EventType.EXTINT ||
      t === EventType.NMI ||
      t === EventType.HW_EXCEPTION ||
      t === EventType.PRIV_SW_EXCEPTION
        ? 1
        : 0;
    // A fault during the delivery of INT n / INT3 is reported at that instruction, which is
    // restarted after the handler (SDM Vol. 3A "Exception Classifications": the saved RIP of a
    // fault points to the faulting instruction; "INT n/INTO/INT3/INT1—Call to Interrupt
    // Procedure" raises #NP(vector·8 + 2 + EXT) for a not-present gate).
    const faultRip = instrRip;
    if (v === Vector.DF && t === EventType.HW_EXCEPTION) {
      // "Interrupt 8—Double Fault Exception": a fault while delivering #DF is a triple fault.
      // In non-root operation the exception bitmap is consulted first: an intercepted #NP
      // for the #DF gate exits with the #DF in the IDT-vectoring information (SDM
      // "Information for VM Exits Due to Vectored Events": for exceptions during delivery of
      // a double fault the EXT bit of the error code is 1).
      if (h.svm.guest) {
        if (svmDoubleFaultExit(h, opts.injected === true, faultRip)) return;
      } else if (exceptionExits(h, Vector.NP, EventType.HW_EXCEPTION)) {
        cpu.rip = faultRip;
        exitFromDelivery(
          h,
          {
            reason: ExitReason.EXCEPTION_NMI,
            intrInfo: intrInfo(Vector.NP, EventType.HW_EXCEPTION, true),
            intrError: (Vector.DF << 3) | 2 | 1,
            vectoringInfo: intrInfo(Vector.DF, EventType.HW_EXCEPTION, true),
            vectoringError: 0,
          },
          opts.injected === true,
          type === EventType.NMI,
        );
        return;
      }
      if (h.vmx.nonRoot) {
        cpu.rip = faultRip;
        exitFromDelivery(
          h,
          { reason: ExitReason.TRIPLE_FAULT },
          opts.injected === true,
          type === EventType.NMI,
        );
        return;
      }
      cpu.activity = Activity.SHUTDOWN;
      h.out.kind = EventKind.SHUTDOWN;
      h.out.rip = fromRip;
      h.out.d0 = deliverWord(vector, type, false);
      h.out.d1 = 0;
      h.out.d2 = 0;
      return;
    }
    if (first < 0) first = v;
    const outer = { v, t, err };
    fromRip = faultRip;
    const npErr = (v << 3) | 2 | ext;
    // The nested #NP is checked against the exception bitmap (VMX) or the exception intercepts
    // (SVM) for itself, before a contributory pair becomes #DF: an intercepted #NP during the
    // delivery of #GP exits as #NP with the #GP as the event being delivered (SDM "Information
    // for VM Exits That Occur During Event Delivery": a fault during event delivery that the
    // exception bitmap intercepts; APM "Exception Intercepts"; Bochs calls VMexit_Event and
    // SvmInterceptException before its double-fault determination). Only when the #NP does
    // not exit does the pair form #DF ("Interrupt 8—Double Fault Exception").
    if (isContributory(v, t) && !exceptionExits(h, Vector.NP, EventType.HW_EXCEPTION)) {
      v = Vector.DF;
      t = EventType.HW_EXCEPTION;
      err = 0;
    } else {
      v = Vector.NP;
      t = EventType.HW_EXCEPTION;
      err = npErr;
    }
    if (h.svm.guest && exceptionExits(h, v, t)) {
      // EXITINTINFO: the event whose delivery the intercepted fault interrupted.
      const outerErr =
        opts.injected && outer.v === vector ? opts.deliverErrorCode === true : hasErrorCode(outer.v, outer.t);
      return svmNestedFaultExit(
        h,
        v,
        err,
        hasErrorCode(v, t),
        { ...outer, withErr: outerErr },
        opts,
        instrRip,
      );
    }
    if (exceptionExits(h, v, t)) {
      const outerErr = hasErrorCode(outer.v, outer.t);
      const soft =
        outer.t === EventType.SW_INT ||
        outer.t === EventType.SW_EXCEPTION ||
        outer.t === EventType.PRIV_SW_EXCEPTION;
      // The event was not delivered: the guest RIP is where it was to be delivered. For a
      // software event that is its INT n / INT3, also when the exiting exception escalated
      // from a fault during its delivery (the outer event is then that fault, not the INT).
      cpu.rip = instrRip;
      // A VM exit due to #DF is never "during event delivery", even when the #DF escalated
      // from delivering another event: no IDT-vectoring information (SDM "Information for VM
      // Exits That Occur During Event Delivery"; facts §1.7, KVM vmcs12_save_pending_event).
      const vectoring = v !== Vector.DF;
      exitFromDelivery(
        h,
        {
          reason: ExitReason.EXCEPTION_NMI,
          intrInfo: intrInfo(v, t, hasErrorCode(v, t)),
          intrError: hasErrorCode(v, t) ? err : 0,
          vectoringInfo: vectoring ? intrInfo(outer.v, outer.t, outerErr) : 0,
          vectoringError: vectoring && outerErr ? outer.err : 0,
          instructionLen: vectoring && soft ? (opts.instrLen ?? 0) : 0,
        },
        opts.injected === true,
        type === EventType.NMI,
      );
      return;
    }
  }
  const g = gate!;
  // An injected event pushes an error code when its "deliver error code" bit says so (SDM
  // "Event Injection"); any other event when its vector has one.
  const withErr =
    opts.injected && first < 0 && opts.deliverErrorCode !== undefined
      ? opts.deliverErrorCode
      : hasErrorCode(v, t);
  // "64-Bit Mode Stack Frame": RSP is aligned to 16 bytes, then SS, RSP, RFLAGS, CS and RIP are
  // pushed, and the error code last when the exception has one.
  const oldRsp = regNumber(cpu, RSP);
  const aligned = oldRsp - (oldRsp % 16);
  checkStack(h.mem, aligned - (withErr ? 48 : 40));
  setRegNumber(cpu, RSP, aligned);
  push64(h, cpu.ss, 0);
  const [rlo, rhi] = split(oldRsp);
  push64(h, rlo, rhi);
  push64(h, (cpu.rflags | pushedRf(h, v, t, opts.injected === true && first < 0)) >>> 0, 0);
  push64(h, KERNEL_CS, 0);
  const [ilo, ihi] = split(fromRip);
  push64(h, ilo, ihi);
  const ripSlot = regNumber(cpu, RSP);
  if (withErr) push64(h, err >>> 0, 0);
  // Interrupt gates clear IF; both gate kinds clear TF, NT and RF (SDM "Exception- or
  // Interrupt-Handler Procedures").
  cpu.rflags &= ~(RFLAGS.TF | RFLAGS.NT | RFLAGS.RF);
  if (g.kind === 'interrupt') cpu.rflags &= ~RFLAGS.IF;
  if (t === EventType.NMI) {
    // "NMI Handling": NMIs are blocked until the next IRET. An NMI that VM entry injects with
    // "virtual NMIs" = 1 sets virtual-NMI blocking instead (SDM "Event Injection").
    if (h.svm.guest) svmNmiDelivered(h, opts.injected === true);
    else if (h.vmx.nonRoot && virtualNmis(h)) cpu.vnmiBlocked = true;
    else cpu.nmiBlocked = true;
  }
  cpu.shadow = 0;
  cpu.activity = Activity.ACTIVE;
  cpu.dbTrapPending = false;
  cpu.dbPending = 0;
  if (first < 0 && opts.debugCause !== undefined) debugDelivered(cpu, opts.debugCause);
  if (cpu.workRemaining > 0) {
    cpu.workStack.push(ripSlot, cpu.workRemaining);
    cpu.workRemaining = 0;
  }
  cpu.frames.push(ripSlot, v, t);
  let nmis = 0;
  for (let i = 2; i < cpu.frames.length; i += 3) if (cpu.frames[i] === EventType.NMI) nmis++;
  if (nmis > cpu.maxNmiDepth) cpu.maxNmiDepth = nmis;
  cpu.rip = g.target;
  h.out.kind = EventKind.DELIVER;
  h.out.rip = fromRip;
  h.out.d0 = deliverWord(v, t, withErr, first >= 0 && first !== v ? first : -1);
  h.out.d1 = withErr ? err >>> 0 : 0;
  h.out.d2 = g.target;
}

function virtualNmis(h: Hart): boolean {
  return (h.vmx.pin & PIN_BASED.PIN_BASED_VIRTUAL_NMIS) !== 0;
}
