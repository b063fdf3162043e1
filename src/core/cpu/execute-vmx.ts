// The VMX instructions in the interpreter: VMXON's CR4.VMXE check, the VMREAD/VMWRITE that
// VMCS shadowing serves in non-root operation, and the rest through vmx/instructions.ts.
import { Op } from '../asm/ir';
import { VmxOutcome, executeVmx } from '../vmx/instructions';
import { shadowVmread, shadowVmwrite } from '../vmx/shadow';
import type { DInstr, DOperand } from './decoded';
import { Vector } from './deliver';
import type { Hart } from './hart';
import { Exec, done, fault, retire } from './retire';
import { CR4 } from './state';

/** Operand access as JS numbers, as execute.ts provides it. */
export interface NumberAccess {
  read(o: DOperand): number;
  write(o: DOperand, v: number): void;
}

export function executeVmxInstruction(
  h: Hart,
  ins: DInstr,
  index: number,
  prevShadow: number,
  singleStep: boolean,
  numberAccess: NumberAccess,
): number {
  const cpu = h.cpu;
  const next = ins.addr + ins.len;
  cpu.rip = ins.addr;
  // VMLAUNCH/VMRESUME fail with VM-instruction error 26 when they execute in a MOV-SS
  // shadow (SDM Vol. 3C "VMLAUNCH/VMRESUME—Launch/Resume Virtual Machine": "ELSIF events
  // are being blocked by MOV SS THEN VMfailValid(VM entry with events blocked by MOV SS)"):
  // the check needs the shadow this instruction executes in, which execute() cleared.
  cpu.shadow = prevShadow;
  if (h.vmx.nonRoot) {
    // A VMREAD/VMWRITE that did not exit: VMCS shadowing serves it (vmx/shadow.ts).
    cpu.shadow = 0;
    if (ins.op === Op.VMREAD) {
      const v = shadowVmread(h, numberAccess.read(ins.b));
      if (v !== null) numberAccess.write(ins.a, v);
    } else shadowVmwrite(h, numberAccess.read(ins.a), numberAccess.read(ins.b));
    cpu.rip = next;
    retire(h, ins, index);
    return done(h, singleStep);
  }
  // "VMXON": #UD when CR4.VMXE = 0 (checked before anything else of VMXON). An AMD processor
  // has no VMX: every VMX instruction is #UD there (docs/svm.md).
  if (h.svm.available || (ins.op === Op.VMXON && !(cpu.cr4 & CR4.VMXE))) {
    cpu.shadow = 0;
    fault(h, ins, Vector.UD, 0);
    return Exec.DONE;
  }
  const r = executeVmx(h, ins, numberAccess, h.level + 1);
  if (!r.entered) cpu.shadow = 0;
  if (r.outcome === VmxOutcome.UD) {
    // Outside VMX operation the VMX instructions raise #UD (SDM "VMX Instruction Reference").
    fault(h, ins, Vector.UD, 0);
    return Exec.DONE;
  }
  if (r.entered) return Exec.DONE;
  cpu.rip = next;
  retire(h, ins, index);
  h.out.d1 = r.outcome;
  return done(h, singleStep);
}
