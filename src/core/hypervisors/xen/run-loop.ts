// The Xen model's loop for its one HVM vCPU on SVM, one decision per step:
// svm_cpu_up, construct_vmcb, then svm_asm_do_resume (svm_intr_assist, CLGI, STI, VMRUN),
// the #VMEXIT, STGI with the host's interrupts taken, svm_vmexit_handler, and around again.
// A vCPU blocked by HLT waits until an event can be delivered (vcpu_unblock).
import { type XenContext, type XenStepResult, decide } from './context';
import { XenFn } from './functions';
import { svmIntrAssist } from './intr';
import { svmVmexitHandler } from './exits';
import { hvmInterruptBlocked, hvmVcpuHasPendingIrq } from './hvm';
import { XenPhase } from './state';
import { constructVmcb, svmCpuUp } from './vmcb-setup';

/** A host interrupt pending after STGI: Xen's handler runs (do_IRQ, or do_nmi for an NMI). */
function hostInterrupt(c: XenContext): XenStepResult | null {
  const v = c.port.hostInterrupt();
  if (v < 0) return null;
  return decide(c.h, v === 2 ? XenFn.do_nmi : XenFn.do_IRQ, v);
}

export function xenStep(c: XenContext): XenStepResult {
  const x = c.xen;
  switch (x.phase) {
    case XenPhase.SETUP:
      return x.stage === 0 ? svmCpuUp(c) : constructVmcb(c);
    case XenPhase.RESUME:
      x.phase = XenPhase.RUN;
      return svmIntrAssist(c);
    case XenPhase.RUN: {
      // At L0 the step's record is the processor's: VMRUN entered the guest, or VMEXIT_INVALID.
      // Above L0 the VMRUN trapped to the level below and Xen is back after the #VMEXIT.
      const hardware = c.port.vmrun();
      x.phase = XenPhase.EXITED;
      return hardware ? 'recorded' : decide(c.h, XenFn.svm_asm_do_resume);
    }
    case XenPhase.EXITED:
      c.port.stgi();
      return hostInterrupt(c) ?? svmVmexitHandler(c);
    case XenPhase.BLOCKED: {
      const irq = hostInterrupt(c);
      if (irq) return irq;
      // local_events_need_delivery: an event the vCPU can take now wakes it.
      const noted = c.h.why?.reads.length ?? 0;
      const intack = hvmVcpuHasPendingIrq(c);
      if (intack.source === 0 || hvmInterruptBlocked(c, intack).blk !== 0) {
        // Nothing wakes it: the reads were not a decision's (causes: drop them).
        if (c.h.why) c.h.why.reads.length = noted;
        return 'wait';
      }
      x.phase = XenPhase.RESUME;
      return decide(c.h, XenFn.vcpu_unblock, intack.source, intack.vector);
    }
    default:
      if (x.crashed) return 'stopped';
      return hostInterrupt(c) ?? 'wait';
  }
}
