// VMX non-root operation: what the processor checks at each instruction boundary while a
// guest runs, in the SDM's priority order, and which instructions cause VM exits.
// SDM Vol. 3C "VMX Non-Root Operation": "Instructions That Cause VM Exits", "Other Causes of
// VM Exits"; Vol. 3A "Priority Among Concurrent Events" with the VMX events spliced in as
// KVM's vmx_check_nested_events documents them (facts §3.1).
import { Op } from '../asm/ir';
import { EventType } from '../engine/view';
import { acknowledge, deliverableVector } from '../cpu/apic';
import type { DInstr } from '../cpu/decoded';
import { Vector, deliverEvent, intrInfo } from '../cpu/deliver';
import { Boundary, mwaitWake, singleStepDue } from '../cpu/boundary-events';
import { takeDebugTrap } from '../cpu/debug';
import type { Hart } from '../cpu/hart';
import { Activity, RFLAGS, Shadow } from '../cpu/state';
import { CPU_BASED, PIN_BASED, VM_EXIT } from './bits';
import { currentVmcs } from './state';
import { F, readField } from './vmcs';
import { type ExitInfo, ExitReason, vmExit } from './vm-exit';
import { shadowed } from './shadow';
import { vmxInstructionExit } from './instruction-info';
import { systemInstructionExit } from './non-root-system';
import { HW, beginBoundary, decided, hw, hwApic, hwBitmap, hwField, nextCheck } from '../causes/why';

function vmcs(h: Hart) {
  return currentVmcs(h.vmx)!;
}

/**
 * Deliver an event through the guest IDT at this boundary. SDM "Monitor Trap Flag" (facts
 * §3.6): when a pending event is delivered before an instruction can execute, an MTF VM exit
 * is pending on the boundary after its delivery (unless the delivery itself exited).
 */
function deliverInGuest(h: Hart, vector: number, type: number, debugCause?: number): void {
  deliverEvent(h, vector, type, 0, h.cpu.rip, debugCause === undefined ? {} : { debugCause });
  if (
    h.vmx.nonRoot &&
    readField(vmcs(h), F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_MONITOR_TRAP_FLAG
  )
    h.vmx.mtfPending = true;
}

/**
 * The highest-priority event at this boundary in VMX non-root operation, in the order of the
 * SDM's priority table with the VMX events spliced in (facts §3.1). Pure: it changes nothing.
 */
export function nonRootEvent(h: Hart): number {
  const cpu = h.cpu;
  const vmx = h.vmx;
  // Each check notes what it reads (causes/why.ts; nothing is noted in a run).
  beginBoundary(h);
  // Decided during VM entry (delivering the injected event faulted): taken first.
  if (hw(h, HW.PENDING_EXIT, vmx.pendingExit !== null)) return decided(h, Boundary.PENDING_EXIT);
  // 3.5 MTF VM exit (SDM "Monitor Trap Flag"): above debug traps and everything below.
  nextCheck(h);
  if (hw(h, HW.MTF_PENDING, vmx.mtfPending)) return decided(h, Boundary.MTF_EXIT);
  // 4. Traps on the previous instruction: the single-step #DB (it may exit through the
  //    exception bitmap inside deliverEvent).
  nextCheck(h);
  if (hw(h, HW.DEBUG_TRAP, singleStepDue(cpu))) return decided(h, Boundary.DEBUG_TRAP);
  const pin = vmx.pin;
  const proc = vmx.proc;
  // 4.3 VMX-preemption timer expired (SDM "VMX-Preemption Timer"). The lab evaluates it
  //     regardless of interrupt shadows (facts §5 item 3: not stated by the SDM).
  nextCheck(h);
  if (hw(h, HW.TIMER_EXPIRED, vmx.timerDeadline >= 0 && h.tsc >= vmx.timerDeadline))
    return decided(h, Boundary.TIMER_EXIT);
  // 4.6 NMI-window exiting: no virtual-NMI blocking and no MOV-SS blocking. Blocking by STI
  //     may also hold it (model-specific); the lab holds it, consistent with its choice that
  //     STI blocks NMIs (docs/model.md).
  nextCheck(h);
  if (
    hwField(h, F.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING, proc) &
      CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING &&
    !hw(h, HW.VNMI_BLOCKED, cpu.vnmiBlocked) &&
    !hw(h, HW.SHADOW_MOVSS, cpu.shadow & Shadow.MOVSS) &&
    !hw(h, HW.SHADOW_STI, cpu.shadow & Shadow.STI)
  )
    return decided(h, Boundary.NMI_WINDOW_EXIT);
  // 5. NMI. With NMI exiting it causes a VM exit (reason 0, 0x80000202); the guest's shadows
  //    do not hold the exit (KVM's choice, facts §3.2), blocking by NMI does (without virtual
  //    NMIs it is real blocking while in non-root operation).
  nextCheck(h);
  if (hw(h, HW.NMI_PENDING, cpu.nmiPending)) {
    if (
      hwField(h, F.PIN_BASED_VM_EXEC_CONTROL, PIN_BASED.PIN_BASED_NMI_EXITING, pin) &
      PIN_BASED.PIN_BASED_NMI_EXITING
    ) {
      if (
        hwField(h, F.PIN_BASED_VM_EXEC_CONTROL, PIN_BASED.PIN_BASED_VIRTUAL_NMIS, pin) &
          PIN_BASED.PIN_BASED_VIRTUAL_NMIS ||
        !hw(h, HW.NMI_BLOCKED, cpu.nmiBlocked)
      )
        return decided(h, Boundary.NMI_EXIT);
    } else if (
      !hw(h, HW.NMI_BLOCKED, cpu.nmiBlocked) &&
      !hw(h, HW.SHADOW_STI, cpu.shadow & Shadow.STI) &&
      !hw(h, HW.SHADOW_MOVSS, cpu.shadow & Shadow.MOVSS)
    )
      return decided(h, Boundary.NMI_DELIVERY);
  }
  // The shutdown activity state blocks external interrupts, and the interrupt window does
  // not end it (SDM "Activity State"; facts §1.9, §3.5).
  if (cpu.activity === Activity.SHUTDOWN) return Boundary.NONE;
  // 5.5 Interrupt-window exiting: RFLAGS.IF = 1 and no blocking by STI or MOV SS.
  nextCheck(h);
  if (
    hwField(h, F.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING, proc) &
      CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING &&
    hw(h, HW.RFLAGS_IF, cpu.rflags & RFLAGS.IF) &&
    !hw(h, HW.SHADOW_STI, cpu.shadow & Shadow.STI) &&
    !hw(h, HW.SHADOW_MOVSS, cpu.shadow & Shadow.MOVSS)
  )
    return decided(h, Boundary.INTR_WINDOW_EXIT);
  // 6. External interrupt: with external-interrupt exiting a VM exit that RFLAGS.IF and the
  //    shadows do not hold; otherwise delivered through the guest IDT when IF=1, no shadow.
  nextCheck(h);
  if (hwApic(h, deliverableVector(h.apic)) >= 0) {
    if (
      hwField(h, F.PIN_BASED_VM_EXEC_CONTROL, PIN_BASED.PIN_BASED_EXT_INTR_MASK, pin) &
      PIN_BASED.PIN_BASED_EXT_INTR_MASK
    )
      return decided(h, Boundary.EXTINT_EXIT);
    if (
      hw(h, HW.RFLAGS_IF, cpu.rflags & RFLAGS.IF) &&
      !hw(h, HW.SHADOW_STI, cpu.shadow & Shadow.STI) &&
      !hw(h, HW.SHADOW_MOVSS, cpu.shadow & Shadow.MOVSS)
    )
      return decided(h, Boundary.EXTINT_DELIVERY);
    if (cpu.activity === Activity.HLT && cpu.mwaitBreak && !(cpu.rflags & RFLAGS.IF))
      return decided(h, Boundary.MWAIT_WAKE);
  }
  return Boundary.NONE;
}

/**
 * "Saving RIP, RSP, RFLAGS": a VM exit caused by an event that would be delivered through the
 * IDT saves RF as the delivery would push it — 1 for an interrupt or NMI between iterations of
 * a repeated instruction (the lab's interrupted `work`).
 */
function interruptedRf(h: Hart): void {
  if (h.cpu.workRemaining > 0) h.cpu.rflags |= RFLAGS.RF;
}

/** Whether something at this boundary ends a guest's HLT or shutdown (a VM exit or a delivery). */
export function nonRootWakes(h: Hart): boolean {
  return nonRootEvent(h) !== Boundary.NONE;
}

/**
 * The checks at an instruction boundary in VMX non-root operation: perform the event
 * nonRootEvent chose. Returns true when a VM exit or a delivery happened (h.out filled).
 */
export function nonRootBoundary(h: Hart): boolean {
  const cpu = h.cpu;
  const vmx = h.vmx;
  switch (nonRootEvent(h)) {
    case Boundary.PENDING_EXIT: {
      const p = vmx.pendingExit!;
      vmx.pendingExit = null;
      vmExit(h, p);
      return true;
    }
    case Boundary.MTF_EXIT:
      vmx.mtfPending = false;
      vmExit(h, { reason: ExitReason.MTF });
      return true;
    case Boundary.DEBUG_TRAP:
      // Single-step or pending debug exceptions from VM entry: DR6 gets the causes, or with #DB
      // in the exception bitmap the exit qualification does.
      deliverInGuest(h, Vector.DB, EventType.HW_EXCEPTION, takeDebugTrap(cpu));
      return true;
    case Boundary.TIMER_EXIT:
      vmx.timerDeadline = -1;
      vmExit(h, { reason: ExitReason.PREEMPTION_TIMER });
      return true;
    case Boundary.NMI_WINDOW_EXIT:
      vmExit(h, { reason: ExitReason.NMI_WINDOW });
      return true;
    case Boundary.NMI_EXIT:
      // The NMI is consumed by the exit (facts §3.8).
      cpu.nmiPending = false;
      interruptedRf(h);
      vmExit(h, { reason: ExitReason.EXCEPTION_NMI, intrInfo: intrInfo(2, EventType.NMI, false) });
      return true;
    case Boundary.NMI_DELIVERY:
      cpu.nmiPending = false;
      deliverInGuest(h, Vector.NMI, EventType.NMI);
      return true;
    case Boundary.INTR_WINDOW_EXIT:
      vmExit(h, { reason: ExitReason.INTERRUPT_WINDOW });
      return true;
    case Boundary.EXTINT_EXIT: {
      interruptedRf(h);
      // With "acknowledge interrupt on exit" the APIC moves the vector to ISR and
      // VM_EXIT_INTR_INFO reports it; without it the interrupt stays pending in IRR (SDM
      // "Architectural State before a VM Exit", facts §3.8).
      if (vmx.exitControls & VM_EXIT.VM_EXIT_ACK_INTR_ON_EXIT) {
        const vector = deliverableVector(h.apic);
        acknowledge(h.apic, vector);
        vmExit(h, {
          reason: ExitReason.EXTERNAL_INTERRUPT,
          intrInfo: intrInfo(vector, EventType.EXTINT, false),
        });
      } else vmExit(h, { reason: ExitReason.EXTERNAL_INTERRUPT });
      return true;
    }
    case Boundary.EXTINT_DELIVERY: {
      const vector = deliverableVector(h.apic);
      acknowledge(h.apic, vector);
      deliverInGuest(h, vector, EventType.EXTINT);
      return true;
    }
    case Boundary.MWAIT_WAKE:
      mwaitWake(cpu, h.out);
      return true;
    default:
      return false;
  }
}

/** Exit reasons of the instructions that always exit in non-root operation. */
const UNCONDITIONAL: Partial<Record<number, number>> = {
  [Op.CPUID]: ExitReason.CPUID,
  [Op.INVD]: ExitReason.INVD,
  [Op.VMCALL]: ExitReason.VMCALL,
  [Op.VMCLEAR]: ExitReason.VMCLEAR,
  [Op.VMLAUNCH]: ExitReason.VMLAUNCH,
  [Op.VMPTRLD]: ExitReason.VMPTRLD,
  [Op.VMREAD]: ExitReason.VMREAD,
  [Op.VMRESUME]: ExitReason.VMRESUME,
  [Op.VMWRITE]: ExitReason.VMWRITE,
  [Op.VMXOFF]: ExitReason.VMXOFF,
  [Op.VMXON]: ExitReason.VMXON,
};

/**
 * Whether the MSR access exits: always without MSR bitmaps, else the bit for the MSR in the
 * 4-KByte bitmap at MSR_BITMAP (read bitmap for 0–1FFFh at offset 0, write at 800h; for
 * C0000000h–C0001FFFh at 400h and C00h; any other MSR exits). SDM "MSR-Bitmap Address".
 */
function msrExits(h: Hart, msr: number, write: boolean): boolean {
  const v = vmcs(h);
  const bitmaps = CPU_BASED.CPU_BASED_USE_MSR_BITMAPS;
  if (!(hwField(h, F.CPU_BASED_VM_EXEC_CONTROL, bitmaps, h.vmx.proc) & bitmaps)) return true;
  let offset: number;
  if (msr <= 0x1fff) offset = write ? 0x800 : 0;
  else if (msr >= 0xc0000000 && msr <= 0xc0001fff) offset = write ? 0xc00 : 0x400;
  else return true;
  const bit = msr & 0x1fff;
  const addr = readField(v, F.MSR_BITMAP) + offset + (bit >>> 3);
  const bytes = h.mem.bytes;
  if (addr < 0 || addr >= bytes.length) return true;
  // The MSR's own bit is the deciding read (causes/why.ts).
  const entry = write ? 'MSR write bitmap, MSR' : 'MSR read bitmap, MSR';
  return hwBitmap(h, entry, msr, addr, bit & 7, (bytes[addr] >>> (bit & 7)) & 1) === 1;
}

/**
 * VM exits caused by executing an instruction in non-root operation (checked before it
 * executes): the guest RIP saved is the instruction's, with its length. Returns true when it
 * exited.
 */
export function instructionExit(h: Hart, ins: DInstr): boolean {
  const cpu = h.cpu;
  let reason: number | undefined;
  const op = ins.op;
  if (op < Op.PAUSE) return false; // data movement, arithmetic, branches and NOP never exit
  reason = UNCONDITIONAL[op];
  // "VMCS Shadowing": a VMREAD or VMWRITE the bitmaps let through reads or writes the shadow
  // VMCS instead of exiting.
  if (
    (op === Op.VMREAD || op === Op.VMWRITE) &&
    shadowed(h, fieldOperand(h, op === Op.VMREAD ? ins.b : ins.a), op === Op.VMWRITE)
  )
    return false;
  if (reason === undefined) {
    const proc = h.vmx.proc;
    // The control that makes the instruction exit is the decision's input (causes/why.ts).
    nextCheck(h);
    const control = (mask: number) => hwField(h, F.CPU_BASED_VM_EXEC_CONTROL, mask, proc) & mask;
    switch (op) {
      case Op.HLT:
        if (control(CPU_BASED.CPU_BASED_HLT_EXITING)) reason = decided(h, ExitReason.HLT);
        break;
      case Op.RDTSC:
        if (control(CPU_BASED.CPU_BASED_RDTSC_EXITING)) reason = decided(h, ExitReason.RDTSC);
        break;
      case Op.PAUSE:
        if (control(CPU_BASED.CPU_BASED_PAUSE_EXITING)) reason = decided(h, ExitReason.PAUSE);
        break;
      case Op.RDMSR:
        if (msrExits(h, cpu.regs[2], false)) reason = decided(h, ExitReason.MSR_READ);
        break;
      case Op.WRMSR:
        if (msrExits(h, cpu.regs[2], true)) reason = decided(h, ExitReason.MSR_WRITE);
        break;
      case Op.MOV_TO_DR:
      case Op.MOV_FROM_DR:
        // "MOV-DR exiting": the exit comes before the general-detect #DB and the #GP/#UD
        // checks. "Exit Qualification for MOV DR": bits 2:0 the debug register, bit 4 the
        // direction (1 = MOV from DR), bits 11:8 the general register.
        if (!control(CPU_BASED.CPU_BASED_MOV_DR_EXITING)) return false;
        decided(h, true);
        exitForInstruction(h, ins, {
          reason: ExitReason.DR_ACCESS,
          qualification: ins.n | (op === Op.MOV_FROM_DR ? 0x10 : 0) | (ins.a.reg << 8),
          instructionLen: ins.len,
        });
        return true;
      default: {
        // The instructions of issue 10 item 6, with their qualifications (non-root-system.ts).
        const info = systemInstructionExit(h, ins);
        if (!info) return false;
        decided(h, true);
        exitForInstruction(h, ins, info);
        return true;
      }
    }
  }
  if (reason === undefined) return false;
  // "Exit Qualification for VM Exits" and "VM-Exit Instruction-Information Field": the VMX
  // instructions with an operand describe it there (instruction-info.ts).
  const { qualification, instructionInfo } = vmxInstructionExit(ins);
  exitForInstruction(h, ins, { reason, qualification, instructionLen: ins.len, instructionInfo });
  return true;
}

/**
 * An exit the instruction at `ins` causes: GUEST_RIP is the instruction's, and GUEST_RFLAGS is
 * saved with RF = 0 ("Saving RIP, RSP, and RFLAGS": for an instruction that exits
 * unconditionally or by a VM-execution control "the value saved is 0").
 */
function exitForInstruction(h: Hart, ins: DInstr, info: ExitInfo): void {
  h.cpu.rip = ins.addr;
  h.cpu.rflags &= ~RFLAGS.RF;
  vmExit(h, info);
}

/** The VMCS-field operand of VMREAD/VMWRITE: a register's low 32 bits, or the field name's encoding. */
function fieldOperand(h: Hart, o: DInstr['a']): number {
  return o.k === 0 ? h.cpu.regs[2 * o.reg] : o.k === 1 ? o.lo : -1;
}

/** The TSC as the guest reads it: with "use TSC offsetting", plus TSC_OFFSET (SDM "RDTSC"). */
export function guestTsc(h: Hart): number {
  if (h.vmx.proc & CPU_BASED.CPU_BASED_USE_TSC_OFFSETTING) {
    return h.tsc + readField(vmcs(h), F.TSC_OFFSET);
  }
  return h.tsc;
}
