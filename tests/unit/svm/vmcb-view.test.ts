// StepView.svm.vmcbs: the VMCB of the last VMRUN decoded from memory with the shared tables,
// the processor's copy of int_ctl while the guest runs, and the fields changed in the step.
import { describe, expect, it } from 'vitest';
import type { VmcbView } from '../../../src/core/engine/view';
import { decodeVmcbField, vmcbFieldSummary } from '../../../src/core/svm/vmcb-layout';
import { label } from '../helpers';
import { runSvm, svmExits, vmruns } from './svm-helpers';

function field(v: VmcbView, name: string) {
  const f = v.fields.find((x) => x.name === name);
  if (!f) throw new Error(`no field ${name}`);
  return f;
}

const VNMI = {
  guestIdt: ['        .intgate 2, g_nmi'],
  setup: [
    '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_NMI_MASK',
    '        mov dword [rbx + VMCB_INT_CTL], V_NMI_ENABLE_MASK | V_NMI_PENDING_MASK',
  ],
  guest: ['        nop', '        vmmcall'],
  extra: ['g_nmi:  iretq'],
};

describe('the VMCB view', () => {
  it('has no VMCB before the first VMRUN, then vmcb01 in L0’s memory', () => {
    const s = runSvm(VNMI);
    const entry = vmruns(s)[0].step;
    expect(s.view(entry - 1).svm!.vmcbs).toEqual([]);
    const [v] = s.view(entry).svm!.vmcbs;
    expect(v).toMatchObject({
      role: 'vmcb01',
      owner: 0,
      runs: 1,
      running: true,
      current: true,
      label: 'vmcb',
    });
    expect(v.addr).toBe(label(s, 'vmcb'));
    expect(field(v, 'rip').value).toBe(label(s, 'guest'));
    expect(field(v, 'intercept').summary).toBe('NMI');
    expect(field(v, 'intercept_word4').summary).toBe('VMRUN VMMCALL');
    expect(field(v, 'int_ctl')).toMatchObject({ live: true, summary: 'V_NMI V_NMI_ENABLE' });
  });

  it('shows V_NMI → V_NMI_MASK at the virtual NMI’s delivery, V_NMI_MASK cleared by the IRET', () => {
    const s = runSvm(VNMI);
    const steps = Array.from({ length: s.totalSteps }, (_, i) => s.view(i + 1));
    const delivery = steps.find((v) => v.event?.kind === 'delivery' && v.svm!.guest)!;
    const intCtl = field(delivery.svm!.vmcbs[0], 'int_ctl');
    expect(intCtl.summary).toBe('V_NMI_MASK V_NMI_ENABLE');
    expect(intCtl.prevHex).toBe('0x04000800');
    expect(intCtl.hex).toBe('0x04001000');
    const iret = steps.find((v) => v.step > delivery.step && v.event?.kind === 'iret')!;
    expect(field(iret.svm!.vmcbs[0], 'int_ctl')).toMatchObject({
      summary: 'V_NMI_ENABLE',
      prevHex: '0x04001000',
    });
    // Fields nobody wrote in the step carry no earlier value.
    expect(field(iret.svm!.vmcbs[0], 'rip').prevHex).toBeUndefined();
  });

  it('at #VMEXIT: exit_code named, next_rip, EVENTINJ.V cleared; memory again, not the processor', () => {
    const s = runSvm({
      setup: [
        '        mov dword [rbx + VMCB_EVENT_INJ], SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | SVM_EVTINJ_VALID_ERR | 13',
      ],
      guestIdt: ['        .intgate 13, g_gp'],
      extra: ['g_gp:   add rsp, 8', '        iretq'],
    });
    const exit = svmExits(s)[0];
    const [v] = s.view(exit.step).svm!.vmcbs;
    expect(v.running).toBe(false);
    expect(field(v, 'exit_code')).toMatchObject({ value: 0x81, summary: 'VMMCALL', prevHex: '0x00000000' });
    expect(field(v, 'int_ctl').live).toBeUndefined();
    expect(field(v, 'event_inj').summary).toBe('not valid (was exception · vector 0x0d · error code)');
    expect(field(v, 'event_inj').prevHex).toBe('0x80000b0d');
  });

  it('VMEXIT_INVALID: exit_code -1 named ERR', () => {
    const s = runSvm({ setup: ['        mov dword [rbx + VMCB_ASID], 0'] });
    const [v] = s.view(svmExits(s)[0].step).svm!.vmcbs;
    expect(field(v, 'exit_code')).toMatchObject({ hex: '0xffffffff', summary: 'ERR' });
    expect(field(v, 'exit_code_hi').hex).toBe('0xffffffff');
  });
});

describe('VMCB bit layouts', () => {
  it('decodes int_ctl bit by bit with the APM meaning', () => {
    const bits = decodeVmcbField('int_ctl', 0x01131a05);
    const by = (n: string) => bits.find((b) => b.name === n)!;
    expect(by('V_TPR')).toMatchObject({ value: 5, bits: [3, 0] });
    expect(by('V_GIF').set).toBe(true);
    expect(by('V_NMI').set).toBe(true);
    expect(by('V_NMI_MASK').set).toBe(true);
    expect(by('V_IRQ').set).toBe(false);
    expect(by('V_INTR_PRIO').value).toBe(3);
    expect(by('V_IGN_TPR').set).toBe(true);
    expect(by('V_INTR_MASKING').set).toBe(true);
    expect(by('V_NMI_MASK').meaning).toMatch(/cleared by the guest’s IRET/);
    expect(by('V_NMI_MASK').section).toMatch(/"NMI Virtualization"/);
    // bit 10 is not defined: set, it is reported as reserved
    expect(decodeVmcbField('int_ctl', 1 << 10).find((b) => b.reserved)).toMatchObject({
      name: 'reserved 10',
    });
  });

  it('names EVENTINJ/EXITINTINFO subfields and exit codes', () => {
    const bits = decodeVmcbField('event_inj', 0x80000202);
    expect(bits.find((b) => b.name === 'TYPE')!.text).toBe('TYPE = 2 (NMI)');
    expect(bits.find((b) => b.name === 'V')!.set).toBe(true);
    expect(vmcbFieldSummary('exit_code', 0x61)).toBe('NMI');
    expect(vmcbFieldSummary('exit_code', 0x4e)).toBe('EXCP_BASE + 14');
    expect(vmcbFieldSummary('intercept_exceptions', 1 << 14)).toBe('#PF');
    expect(vmcbFieldSummary('efer', 0x1d00)).toBe('LME LMA NXE SVME');
  });
});

describe('the levels’ SVM state', () => {
  it('the host: GIF, EFER.SVME (from the host save area while the guest runs), VM_HSAVE_PA', () => {
    const s = runSvm({ setup: ['        mov dword [rbx + VMCB_INT_CTL], V_GIF_ENABLE_MASK | V_GIF_MASK'] });
    expect(s.view(0).levels[0].svm).toMatchObject({ role: 'host', gif: true, svme: false });
    const entry = vmruns(s)[0].step;
    const [host, guest] = s.view(entry).levels;
    expect(host.svm).toMatchObject({ role: 'host', gif: true, svme: true, hsavePa: label(s, 'hsave') });
    expect(guest.svm).toMatchObject({ role: 'guest', gif: true, vgifEnabled: true, vgif: true, svme: true });
    const exit = svmExits(s)[0].step;
    const after = s.view(exit).levels;
    expect(after[0].svm).toMatchObject({ gif: false, svme: true });
    expect(after[1].svm).toMatchObject({ gif: null, vgifEnabled: true });
  });
});

describe('a waiting level shows the state it resumes with', () => {
  it('the host its host save area while the guest runs; the guest its VMCB save area after #VMEXIT', () => {
    const s = runSvm({ guest: ['        nop', '        vmmcall'] });
    const entry = vmruns(s)[0].step;
    const host = s.view(entry).levels[0];
    expect(host.cpu.running).toBe(false);
    expect(host.restingIn).toBe(`the host save area at VM_HSAVE_PA (0x${label(s, 'hsave').toString(16)})`);
    expect(host.cpu.rip).toBe(label(s, 'after_vmrun'));
    expect(host.nextInstruction).toBe('cli');
    expect(host.cpu.regs.find((r) => r.name === 'rax')!.value).toBe(
      '0x' + label(s, 'vmcb').toString(16).padStart(16, '0'),
    );
    const exit = svmExits(s)[0].step;
    const guest = s.view(exit).levels[1];
    expect(guest.restingIn).toBe('the save area of vmcb01');
    // The guest stopped at its VMMCALL: the VMCB's RIP.
    expect(guest.cpu.rip).toBe(svmExits(s)[0].rip);
    expect(guest.cpu.regs.find((r) => r.name === 'rsp')!.value).toBe('0x000000000000c000');
  });
});
