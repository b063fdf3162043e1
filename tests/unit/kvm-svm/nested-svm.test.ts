// Nested SVM's decisions that do not need L2 to run (arch/x86/kvm/svm/nested.c, facts §3.11):
// nested_vmcb_check_controls, nested_vmcb02_prepare_control (recalc_intercepts and the int_ctl
// merge), and nested_svm_exit_special / nested_svm_intercept.
import { describe, expect, it } from 'vitest';
import {
  type VmcbControls,
  isIntercept,
  nestedSvmExitHandled,
  nestedVmcb02PrepareControl,
  nestedVmcbCheckControls,
} from '../../../src/core/hypervisors/kvm/nested-svm';
import { EVTINJ, INT_CTL, INTERCEPT, interceptMask } from '../../../src/core/svm/bits';
import { SvmExit } from '../../../src/core/svm/exit-codes';

function controls(bits: number[], more: Partial<VmcbControls> = {}): VmcbControls {
  const intercepts: VmcbControls['intercepts'] = [0, 0, 0, 0, 0];
  for (const b of bits) intercepts[b >> 5] = (intercepts[b >> 5] | interceptMask(b)) >>> 0;
  return {
    intercepts,
    intCtl: 0,
    intVector: 0,
    intState: 0,
    eventInj: 0,
    eventInjErr: 0,
    asid: 1,
    nestedCtl: 0,
    msrpmBasePa: 0x4000,
    iopmBasePa: 0x8000,
    nextRip: 0,
    ...more,
  };
}

const FEATURES = { vgif: false, vnmi: false, interceptSmi: true };

/** vmcb01 as init_vmcb sets it (intercept vectors 3 and 4, #DB #UD #AC #MC, CR8 write). */
const vmcb01 = (() => {
  const c = controls(
    [
      INTERCEPT.INTERCEPT_INTR,
      INTERCEPT.INTERCEPT_NMI,
      INTERCEPT.INTERCEPT_SMI,
      INTERCEPT.INTERCEPT_CPUID,
      INTERCEPT.INTERCEPT_HLT,
      INTERCEPT.INTERCEPT_VMRUN,
      INTERCEPT.INTERCEPT_VMMCALL,
      INTERCEPT.INTERCEPT_MSR_PROT,
      INTERCEPT.INTERCEPT_IOIO_PROT,
      INTERCEPT.INTERCEPT_CR8_WRITE,
      INTERCEPT.INTERCEPT_VINTR,
    ],
    {
      intCtl:
        INT_CTL.V_INTR_MASKING_MASK |
        INT_CTL.V_GIF_ENABLE_MASK |
        INT_CTL.V_GIF_MASK |
        INT_CTL.V_NMI_ENABLE_MASK,
      asid: 1,
      msrpmBasePa: 0x9000,
      iopmBasePa: 0xb000,
    },
  );
  c.intercepts[2] = (1 << 1) | (1 << 6) | (1 << 17) | (1 << 18);
  return c;
})();

describe('nested_vmcb_check_controls', () => {
  const ok = controls([INTERCEPT.INTERCEPT_VMRUN, INTERCEPT.INTERCEPT_NMI]);
  it('accepts a vmcb12 with the VMRUN intercept, an ASID and its maps in L1’s memory', () => {
    expect(nestedVmcbCheckControls(ok, 0x10000, true)).toBeNull();
  });
  it('refuses each failing control, as VMRUN would (SVM_EXIT_ERR)', () => {
    expect(nestedVmcbCheckControls(controls([]), 0x10000, true)).toMatch(/VMRUN intercept/);
    expect(nestedVmcbCheckControls({ ...ok, asid: 0 }, 0x10000, true)).toMatch(/ASID/);
    expect(nestedVmcbCheckControls({ ...ok, nestedCtl: 1 }, 0x10000, false)).toMatch(/nested paging/);
    expect(nestedVmcbCheckControls({ ...ok, msrpmBasePa: 0xf000 }, 0x10000, true)).toMatch(/MSR permission/);
    expect(nestedVmcbCheckControls({ ...ok, iopmBasePa: 0xe000 }, 0x10000, true)).toMatch(/I\/O permission/);
    const vnmi = controls([INTERCEPT.INTERCEPT_VMRUN], { intCtl: INT_CTL.V_NMI_ENABLE_MASK });
    expect(nestedVmcbCheckControls(vnmi, 0x10000, true)).toMatch(/V_NMI_ENABLE/);
  });
});

describe('nested_vmcb02_prepare_control', () => {
  const vmcb12 = controls(
    [INTERCEPT.INTERCEPT_VMRUN, INTERCEPT.INTERCEPT_IRET, INTERCEPT.INTERCEPT_EXCEPTION_OFFSET + 14],
    {
      intCtl:
        INT_CTL.V_IRQ_MASK |
        (3 << 16) |
        2 |
        INT_CTL.V_INTR_MASKING_MASK |
        INT_CTL.V_NMI_ENABLE_MASK |
        INT_CTL.V_GIF_MASK,
      intVector: 0x50,
      intState: 1,
      eventInj: (EVTINJ.SVM_EVTINJ_VALID | EVTINJ.SVM_EVTINJ_TYPE_NMI) >>> 0,
      asid: 7,
    },
  );

  it('ORs L0’s and L1’s intercepts, minus L0’s CR8-write, VMMCALL and (with L1’s IF = 0) VINTR', () => {
    const { vmcb02 } = nestedVmcb02PrepareControl(vmcb01, vmcb12, false, FEATURES);
    for (const b of [
      INTERCEPT.INTERCEPT_INTR,
      INTERCEPT.INTERCEPT_NMI,
      INTERCEPT.INTERCEPT_HLT,
      INTERCEPT.INTERCEPT_IRET,
      INTERCEPT.INTERCEPT_VMRUN,
    ])
      expect(isIntercept(vmcb02, b), `bit ${b}`).toBe(true);
    for (const b of [INTERCEPT.INTERCEPT_CR8_WRITE, INTERCEPT.INTERCEPT_VMMCALL, INTERCEPT.INTERCEPT_VINTR])
      expect(isIntercept(vmcb02, b), `bit ${b}`).toBe(false);
    expect(vmcb02.intercepts[2]).toBe(vmcb01.intercepts[2] | (1 << 14));
    // With L1's IF = 1 L0 keeps its VINTR intercept (its own interrupt window).
    expect(
      isIntercept(
        nestedVmcb02PrepareControl(vmcb01, vmcb12, true, FEATURES).vmcb02,
        INTERCEPT.INTERCEPT_VINTR,
      ),
    ).toBe(true);
  });

  it('takes V_TPR and the V_IRQ bits from vmcb12, V_INTR_MASKING and V_GIF from vmcb01, no V_NMI bits (no nested vGIF/vNMI)', () => {
    const { vmcb02, nmiL1ToL2 } = nestedVmcb02PrepareControl(vmcb01, vmcb12, true, FEATURES);
    expect(vmcb02.intCtl).toBe(
      (INT_CTL.V_IRQ_MASK |
        (3 << 16) |
        2 |
        INT_CTL.V_INTR_MASKING_MASK |
        INT_CTL.V_GIF_ENABLE_MASK |
        INT_CTL.V_GIF_MASK) >>>
        0,
    );
    expect(vmcb02).toMatchObject({
      intVector: 0x50,
      intState: 1,
      eventInj: vmcb12.eventInj,
      asid: 1,
      msrpmBasePa: 0x9000,
      iopmBasePa: 0xb000,
    });
    expect(nmiL1ToL2).toBe(true);
  });

  it('with nested vGIF and vNMI the V_GIF and V_NMI bits are L1’s', () => {
    const { vmcb02 } = nestedVmcb02PrepareControl(vmcb01, vmcb12, true, {
      vgif: true,
      vnmi: true,
      interceptSmi: true,
    });
    expect(vmcb02.intCtl & INT_CTL.V_GIF_ENABLE_MASK).toBe(0);
    expect(vmcb02.intCtl & INT_CTL.V_GIF_MASK).toBeTruthy();
    expect(vmcb02.intCtl & INT_CTL.V_NMI_ENABLE_MASK).toBeTruthy();
  });
});

describe('nested_svm_exit_special and nested_svm_intercept', () => {
  const vmcb12 = controls([
    INTERCEPT.INTERCEPT_HLT,
    INTERCEPT.INTERCEPT_MSR_PROT,
    INTERCEPT.INTERCEPT_IOIO_PROT,
    INTERCEPT.INTERCEPT_CR0_WRITE,
  ]);
  vmcb12.intercepts[2] = 1 << 14;
  // L1's MSR map intercepts writes of 0x80b (x2APIC EOI); its I/O map port 0x61.
  const bits = new Set<string>([
    `${0x4000 + ((0x80b * 2 + 1) >> 3)}:${(0x80b * 2 + 1) & 7}`,
    `${0x8000 + (0x61 >> 3)}:${0x61 & 7}`,
  ]);
  const l1Bit = (a: number, b: number) => bits.has(`${a}:${b}`);
  const who = (code: number, info1 = 0, ecx = 0) =>
    nestedSvmExitHandled(code, info1, ecx, vmcb01, vmcb12, l1Bit);

  it('INTR and NMI are L0’s, whatever L1 intercepts; so is an exception vmcb01 intercepts', () => {
    expect(who(SvmExit.INTR)).toBe('host');
    expect(who(SvmExit.NMI)).toBe('host');
    expect(who(SvmExit.EXCP_BASE + 6)).toBe('host');
    expect(who(SvmExit.EXCP_BASE + 14)).toBe('l1');
  });

  it('an instruction intercept goes to L1 when vmcb12 has its bit', () => {
    expect(who(SvmExit.HLT)).toBe('l1');
    expect(who(SvmExit.CPUID)).toBe('host');
    expect(who(SvmExit.WRITE_CR0)).toBe('l1');
    expect(who(SvmExit.READ_CR0)).toBe('host');
    expect(who(SvmExit.ERR)).toBe('l1');
  });

  it('MSR and I/O exits follow L1’s permission maps', () => {
    expect(who(SvmExit.MSR, 1, 0x80b)).toBe('l1');
    expect(who(SvmExit.MSR, 0, 0x80b)).toBe('host');
    expect(who(SvmExit.IOIO, (0x61 << 16) | 0x10 | 1)).toBe('l1');
    expect(who(SvmExit.IOIO, (0x60 << 16) | 0x10 | 1)).toBe('host');
    // A word access at 0x60 touches 0x61 too.
    expect(who(SvmExit.IOIO, (0x60 << 16) | 0x20 | 1)).toBe('l1');
  });
});
