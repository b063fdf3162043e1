// KVM's VMX vcpu_create and vcpu_run (arch/x86/kvm/vmx/vmx.c vmx_hardware_enable,
// vmx_vcpu_create → init_vmcs, vmx_vcpu_run): the VMX side of the run loop that x86.c
// (run-loop.ts) calls through kvm_x86_ops (vmx-ops.ts).
import { CPU_BASED, PIN_BASED, SECONDARY_EXEC, VM_ENTRY, VM_EXIT } from '../../vmx/bits';
import { F } from '../../vmx/vmcs';
import { initVmcsCrs } from './cr';
import { KVM_HOST, type KvmContext, type KvmStepResult, decide } from './context';
import { Fn, RESCHEDULE_VECTOR } from './functions';
import { copyVmcs12ToShadow } from './nested-shadow';
import { KvmPhase } from './state';
import { kvmPinControls, rd, wr } from './vmx';

/** hardware_enable and vmx_vcpu_create → init_vmcs: VMXON, vmcs01, controls, host and guest state. */
export function vmxVcpuCreate(c: KvmContext): KvmStepResult {
  const { h, kvm, port } = c;
  if (kvm.stage === 0) {
    kvm.stage = 1;
    port.writeRevision(KVM_HOST.VMXON);
    port.vmxon(KVM_HOST.VMXON);
    return decide(h, Fn.hardware_enable, KVM_HOST.VMXON);
  }
  kvm.stage = 0;
  port.writeRevision(KVM_HOST.VMCS01);
  port.vmclear(KVM_HOST.VMCS01);
  port.vmptrld(KVM_HOST.VMCS01);
  kvm.vmcsAddr = KVM_HOST.VMCS01;
  kvm.loadedVmcs = KVM_HOST.VMCS01;
  wr(c, F.PIN_BASED_VM_EXEC_CONTROL, kvmPinControls(kvm));
  // vmx_exec_control without EPT and TPR shadow (the processor offers neither): HLT exits so
  // KVM can emulate it (kvm_hlt_in_guest is off); CR3 loads and stores and INVLPG exit for
  // shadow paging; CR8 accesses exit (no TPR shadow); every I/O instruction exits; MWAIT,
  // MONITOR and RDPMC exit. x2APIC MSR accesses exit (no MSR bitmaps, no APIC virtualization
  // in this model). Secondary controls: WBINVD exiting (RDRAND exits only for a guest whose
  // CPUID lacks RDRAND). MOV-DR exiting too (setup_vmcs_config requires it; handle_dr drops it
  // lazily, debug.ts).
  wr(
    c,
    F.CPU_BASED_VM_EXEC_CONTROL,
    CPU_BASED.CPU_BASED_HLT_EXITING |
      CPU_BASED.CPU_BASED_CR3_LOAD_EXITING |
      CPU_BASED.CPU_BASED_CR3_STORE_EXITING |
      CPU_BASED.CPU_BASED_INVLPG_EXITING |
      CPU_BASED.CPU_BASED_CR8_LOAD_EXITING |
      CPU_BASED.CPU_BASED_CR8_STORE_EXITING |
      CPU_BASED.CPU_BASED_UNCOND_IO_EXITING |
      CPU_BASED.CPU_BASED_MWAIT_EXITING |
      CPU_BASED.CPU_BASED_MONITOR_EXITING |
      CPU_BASED.CPU_BASED_RDPMC_EXITING |
      CPU_BASED.CPU_BASED_MOV_DR_EXITING |
      CPU_BASED.CPU_BASED_ACTIVATE_SECONDARY_CONTROLS,
  );
  wr(c, F.SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC.SECONDARY_EXEC_WBINVD_EXITING);
  initVmcsCrs(c);
  wr(c, F.EXCEPTION_BITMAP, (1 << 18) | (1 << 17)); // #MC and #AC, as init_vmcs
  // DR7 and IA32_DEBUGCTL travel in the VMCS: "save debug controls" and "load debug controls"
  // are required controls of setup_vmcs_config.
  wr(
    c,
    F.VM_EXIT_CONTROLS,
    VM_EXIT.VM_EXIT_HOST_ADDR_SPACE_SIZE |
      VM_EXIT.VM_EXIT_ACK_INTR_ON_EXIT |
      VM_EXIT.VM_EXIT_SAVE_DEBUG_CONTROLS,
  );
  wr(c, F.VM_ENTRY_CONTROLS, VM_ENTRY.VM_ENTRY_IA32E_MODE | VM_ENTRY.VM_ENTRY_LOAD_DEBUG_CONTROLS);
  wr(c, F.GUEST_DR7, 0x400);
  wr(c, F.GUEST_IA32_DEBUGCTL, 0);
  wr(c, F.HOST_RIP, KVM_HOST.VMX_VMEXIT);
  wr(c, F.HOST_RSP, KVM_HOST.STACK);
  wr(c, F.HOST_IDTR_BASE, c.hostIdt);
  // The vCPU starts at the guest program's entry, its stack at the top of its memory, with
  // RFLAGS 0x2 (IF = 0) as after reset, and its IDT.
  wr(c, F.GUEST_RIP, c.guest.entry);
  wr(c, F.GUEST_RSP, c.guestMemory);
  wr(c, F.GUEST_RFLAGS, 0x2);
  wr(c, F.GUEST_IDTR_BASE, c.guest.idtBase);
  wr(c, F.GUEST_INTERRUPTIBILITY_INFO, 0);
  wr(c, F.GUEST_ACTIVITY_STATE, 0);
  kvm.phase = KvmPhase.ENTER;
  return decide(h, Fn.vmx_vcpu_create, KVM_HOST.VMCS01);
}

/** vmx_vcpu_run: stamp entry_time for the soft-vNMI clock, force an immediate exit if asked, enter. */
export function vmxVcpuRun(c: KvmContext): KvmStepResult {
  const { h, kvm, port } = c;
  if (!kvm.enableVnmi && kvm.softVnmiBlocked) kvm.entryTime = port.tsc();
  if (kvm.immediateExit) {
    kvm.immediateExit = false;
    // vcpu_enter_guest (x86.c): with req_immediate_exit it raises KVM_REQ_EVENT again, so the
    // event that had to wait is evaluated after the forced exit (facts §3.9).
    kvm.reqEvent = true;
    // KVM_RUN_FORCE_IMMEDIATE_EXIT: the preemption timer at 0 when usable (exit 52 before any
    // guest instruction, after injection), else a self-IPI (smp_send_reschedule).
    if (c.immediateExit === 'preemption-timer' && port.caps.features.preemptionTimer) {
      wr(
        c,
        F.PIN_BASED_VM_EXEC_CONTROL,
        rd(c, F.PIN_BASED_VM_EXEC_CONTROL) | PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER,
      );
      wr(c, F.VMX_PREEMPTION_TIMER_VALUE, 0);
    } else {
      port.selfIpi(RESCHEDULE_VECTOR); // smp_send_reschedule to this CPU, interrupts disabled
    }
  } else if (rd(c, F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER) {
    wr(
      c,
      F.PIN_BASED_VM_EXEC_CONTROL,
      rd(c, F.PIN_BASED_VM_EXEC_CONTROL) & ~PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER,
    );
  }
  const nested = kvm.nested;
  // In guest mode the loaded VMCS is vmcs02, and the guest it runs is L2.
  const launch = nested.guestMode ? !nested.vmcs02Launched : !kvm.launched;
  const lane = nested.guestMode ? nested.l2Lane : c.guestLane;
  // vmx_prepare_switch_to_guest → nested_sync_vmcs12_to_shadow, before L1 runs.
  if (nested.needShadowSync && !nested.guestMode) copyVmcs12ToShadow(c);
  // __vmx_vcpu_run: the guest's registers go back into the processor.
  port.loadGuestRegs(kvm.guestRegs);
  kvm.regsSaved = false;
  const r = port.vmenter(launch, lane);
  if (!r.entered) {
    kvm.phase = KvmPhase.STOPPED;
    kvm.log.push({ step: c.step, text: `vmx_vcpu_run: VM entry failed (${r.reason})` });
    return decide(h, Fn.unexpected_exit, 0xffffffff);
  }
  // The entry delivered the injected exception (a delivery that itself exits comes back
  // through the IDT-vectoring information).
  kvm.exceptionInjected = false;
  if (nested.guestMode) {
    nested.vmcs02Launched = true;
    // vmx_vcpu_run: the nested entry has happened (whether or not L2 then exits at once).
    nested.runPending = false;
  } else kvm.launched = true;
  kvm.eventsChecked = false;
  kvm.phase = KvmPhase.EXITED;
  // At L0 the step's record is the hardware's VMENTRY (or entry-failure VMEXIT). Above L0 the
  // VMLAUNCH/VMRESUME trapped and the level below ran the guest; KVM is back after its exit.
  return port.level === 0 ? 'recorded' : decide(h, Fn.vmx_vcpu_run, launch ? 1 : 0, lane);
}
