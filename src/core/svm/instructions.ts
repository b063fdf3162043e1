// The SVM instructions in the interpreter (AMD APM vol. 3 "VMRUN", "VMMCALL", "STGI", "CLGI",
// "VMLOAD", "VMSAVE"): #UD when EFER.SVME = 0 (VMMCALL: #UD unless intercepted), #GP(0) for a
// VMCB address that is not 4 KiB aligned or outside memory. Intercepts were checked before
// (svm/intercepts.ts).
import { Op } from '../asm/ir';
import type { DInstr } from '../cpu/decoded';
import { Vector } from '../cpu/deliver';
import type { Hart } from '../cpu/hart';
import { Exec, done, fault, retire } from '../cpu/retire';
import { regNumber } from '../cpu/state';
import { EFER, INT_CTL } from './bits';
import { vmrun } from './vmrun';

/** The VMCB size the checks need in memory (the control and save areas: one page). */
const PAGE = 4096;

function badPage(h: Hart, pa: number): boolean {
  return pa % PAGE !== 0 || pa < 0 || pa + PAGE > h.mem.bytes.length;
}

export function executeSvmInstruction(h: Hart, ins: DInstr, index: number, singleStep: boolean): number {
  const cpu = h.cpu;
  const svm = h.svm;
  const next = ins.addr + ins.len;
  cpu.shadow = 0;
  // VMMCALL that the VMCB does not intercept, or outside a guest, is #UD; so is every SVM
  // instruction on an Intel processor.
  if (!svm.available || ins.op === Op.VMMCALL || !(svm.efer & EFER.SVME)) {
    fault(h, ins, Vector.UD, 0);
    return Exec.DONE;
  }
  const vgif = svm.guest && (svm.intCtl & INT_CTL.V_GIF_ENABLE_MASK) !== 0;
  switch (ins.op) {
    case Op.STGI:
      // "STGI": GIF = 1; with vGIF the guest's STGI sets V_GIF instead.
      if (vgif) svm.intCtl |= INT_CTL.V_GIF_MASK;
      else svm.gif = true;
      break;
    case Op.CLGI:
      if (vgif) svm.intCtl &= ~INT_CTL.V_GIF_MASK;
      else svm.gif = false;
      break;
    case Op.VMLOAD:
    case Op.VMSAVE:
      // The state they move (FS, GS, TR, LDTR, KernelGsBase, STAR/LSTAR/CSTAR/SFMASK,
      // SYSENTER_*) is not modelled: only the address checks apply (docs/svm.md).
      if (badPage(h, regNumber(cpu, 0))) {
        fault(h, ins, Vector.GP, 0);
        return Exec.DONE;
      }
      break;
    case Op.VMRUN: {
      const vmcb = regNumber(cpu, 0);
      if (badPage(h, vmcb) || badPage(h, svm.hsavePa)) {
        fault(h, ins, Vector.GP, 0);
        return Exec.DONE;
      }
      const r = vmrun(h, vmcb, next, ins.addr);
      // "VMRUN" (APM vol. 3) and kvm-unit-tests host_rflags: the host's TF at VMRUN makes the
      // single-step #DB trap due when VMRUN completes on the host side — at once when its
      // checks failed, else after the #VMEXIT, at the instruction after VMRUN. The guest's own
      // TF comes from the VMCB and traps after the guest's first instruction.
      if (singleStep) {
        if (r.entered) svm.hostSingleStep = true;
        else cpu.dbTrapPending = true;
      }
      return Exec.DONE;
    }
  }
  cpu.rip = next;
  retire(h, ins, index);
  return done(h, singleStep);
}
