// "Checks on Guest Non-Register State" and the debug part of "Checks on Guest Control
// Registers, Debug Registers, and MSRs" (SDM Vol. 3C): each check failing (a VM-entry failure,
// exit reason 0x80000021, with its exit qualification) and the same state passing.
import { describe, expect, it } from 'vitest';
import { ACTIVITY_MISC, DEFAULT_VMX_FEATURES, vmxCaps } from '../../../src/core/vmx/capabilities';
import { guestStateFailure, supportedActivityStates } from '../../../src/core/vmx/guest-state-checks';
import { F, createVmcs, writeField } from '../../../src/core/vmx/vmcs';
import { open, scenarioDoc } from '../helpers';
import { entries, exits, field, info, vmxProgram } from './vmx-helpers';

const GUEST_GATES = [...Array.from({ length: 32 }, (_, v) => v), 0x20, 0x80].map(
  (v) => `        .intgate ${v}, gh`,
);

function launch(setup: string[], vmx: Record<string, unknown> = {}) {
  const prog = vmxProgram({ guestIdt: GUEST_GATES, setup, extra: ['gh:     vmcall'] });
  return open(scenarioDoc(prog, [], { limits: { steps: 20000 }, features: { vmx } }));
}

function expectFailed(s: ReturnType<typeof launch>, qualification = 0) {
  expect(exits(s).map((e) => e.reason)).toEqual([0x80000021]);
  expect(entries(s)).toEqual([]);
  expect(field(s, 'EXIT_QUALIFICATION')).toBe(qualification);
}

function expectEntered(s: ReturnType<typeof launch>) {
  expect(entries(s)).toHaveLength(1);
  expect(exits(s).map((e) => e.reason)).toEqual([18]);
}

const IF = 'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_IF';
const TF = 'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_TF';
const TF_IF = 'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_TF | X86_EFLAGS_IF';
const intr = (v: number) => `vmwrite GUEST_INTERRUPTIBILITY_INFO, ${v}`;
const act = (v: number) => `vmwrite GUEST_ACTIVITY_STATE, ${v}`;
const inj = (v: number) => `vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x${v.toString(16)}`;
const pend = (v: number | string) => `vmwrite GUEST_PENDING_DBG_EXCEPTIONS, ${v}`;
const DEBUGCTL = (v: number) => `vmwrite GUEST_IA32_DEBUGCTL, ${v}`;
const LOAD_DEBUG = 'vmwrite VM_ENTRY_CONTROLS, VM_ENTRY_LOAD_DEBUG_CONTROLS';

describe('interruptibility state', () => {
  it.each([
    ['reserved bit 31', [intr(0x80000000)]],
    ['blocking by SMI (bit 2) outside SMM', [intr(4)]],
    ['enclave interruption (bit 4) without SGX', [intr(0x10)]],
  ])('fails: %s', (_, setup) => expectFailed(launch(setup)));

  it('passes: blocking by NMI (bit 3) alone', () => expectEntered(launch([intr(8)])));

  it('an NMI injected into blocking by STI: allowed by default, exit qualification 3 with stiBlocksNmiInjection', () => {
    const setup = [IF, intr(1), inj(info(2, 2))];
    expectEntered(launch(setup));
    expectFailed(launch(setup, { stiBlocksNmiInjection: true }), 3);
    // the option needs the STI bit: an NMI with no blocking still enters
    expectEntered(launch([IF, inj(info(2, 2))], { stiBlocksNmiInjection: true }));
  });
});

describe('activity state', () => {
  it.each([
    ['wait-for-SIPI (IA32_VMX_MISC bit 8 is 0)', [act(3)]],
    ['a value above 3', [act(4)]],
    ['shutdown with an injected #DB', [act(2), inj(info(3, 1))]],
  ])('fails: %s', (_, setup) => expectFailed(launch(setup)));

  it('passes: shutdown with an injected NMI or #MC (the entry is vectoring: the guest is active)', () => {
    expectEntered(launch([act(2), inj(info(2, 2))]));
    expectEntered(launch([act(2), inj(info(3, 18))]));
  });
});

describe('pending debug exceptions', () => {
  it.each([
    ['bit 4', 0x10],
    ['bit 11', 0x800],
    ['bit 13 (BD is no pending trap)', 0x2000],
    ['bit 15', 0x8000],
    ['bit 17', 0x20000],
    ['bit 40', '0x10000000000'],
  ])('reserved %s fails', (_, v) => expectFailed(launch([pend(v)])));

  it.each([
    ['B0–B3 and enabled breakpoint', 0x100f],
    ['BS', 0x4000],
  ])('passes: %s', (_, v) => {
    // With no blocking and active: the BS/TF rule does not apply; the #DB goes through gh.
    expectEntered(launch([pend(v)]));
  });

  describe('BS vs RFLAGS.TF and IA32_DEBUGCTL.BTF with STI or MOV-SS blocking or in HLT', () => {
    it.each([
      ['STI blocking, TF = 1, BS = 0', [TF_IF, intr(1)]],
      ['MOV-SS blocking, TF = 1, BS = 0', [TF, intr(2)]],
      ['HLT, TF = 1, BS = 0', [TF, act(1)]],
      ['STI blocking, TF = 0, BS = 1', [IF, intr(1), pend(0x4000)]],
      ['HLT, TF = 0, BS = 1', [act(1), pend(0x4000)]],
      ['MOV-SS blocking, TF = 1, BTF = 1, BS = 1', [TF, intr(2), DEBUGCTL(2), pend(0x4000)]],
    ])('fails: %s', (_, setup) => expectFailed(launch(setup)));

    it.each([
      ['STI blocking, TF = 1, BS = 1', [TF_IF, intr(1), pend(0x4000)]],
      ['MOV-SS blocking, TF = 1, BTF = 1, BS = 0', [TF, intr(2), DEBUGCTL(2)]],
      ['TF = 1, BS = 0 without blocking and active: not checked', [TF]],
    ])('passes: %s', (_, setup) => {
      const s = launch(setup);
      expect(entries(s)).toHaveLength(1);
      expect(exits(s)[0].reason).not.toBe(0x80000021);
    });

    it('passes: HLT with TF = 1 and BS = 1 (the #DB wakes the guest)', () => {
      const s = launch([TF, act(1), pend(0x4000)]);
      expect(entries(s)).toHaveLength(1);
      expect(exits(s)[0].reason).toBe(18);
    });
  });

  it.each([
    ['RTM (bit 16) alone: bit 12 must be 1', 0x10000],
    ['RTM with bit 12: the processor has no RTM', 0x11000],
    ['RTM with bit 12 and BS', 0x15000],
  ])('fails: %s', (_, v) => expectFailed(launch([pend(v)])));
});

describe('"load debug controls": GUEST_DR7 and GUEST_IA32_DEBUGCTL', () => {
  it.each([
    ['DR7 bit 32', [LOAD_DEBUG, 'vmwrite GUEST_DR7, 0x100000400']],
    ['IA32_DEBUGCTL reserved bit 2', [LOAD_DEBUG, DEBUGCTL(4)]],
    ['IA32_DEBUGCTL bit 32', [LOAD_DEBUG, 'vmwrite GUEST_IA32_DEBUGCTL, 0x100000000']],
  ])('fails: %s', (_, setup) => expectFailed(launch(setup)));

  it('without the control the fields are not checked', () => {
    expectEntered(launch(['vmwrite GUEST_DR7, 0x100000400', DEBUGCTL(4)]));
  });

  it('loads DR7 (bit 10 set, bits 12, 15:14 clear) and IA32_DEBUGCTL; the exit saves them with "save debug controls" and loads 400H and 0', () => {
    const s = launch(
      [
        LOAD_DEBUG,
        'vmwrite VM_EXIT_CONTROLS, VM_EXIT_SAVE_DEBUG_CONTROLS',
        'vmwrite GUEST_DR7, 0xd001',
        DEBUGCTL(1),
      ],
      {},
    );
    expectEntered(s);
    expect(field(s, 'GUEST_DR7')).toBe(0x401);
    expect(field(s, 'GUEST_IA32_DEBUGCTL')).toBe(1);
  });
});

describe('guestStateFailure with other capabilities (the function KVM also uses for vmcs12)', () => {
  function vmcs(fields: Record<number, number>) {
    const v = createVmcs(0x3000);
    writeField(v, F.GUEST_RFLAGS, 2);
    for (const [enc, value] of Object.entries(fields)) writeField(v, Number(enc), value);
    return v;
  }
  const withRtm = vmxCaps({ ...DEFAULT_VMX_FEATURES, rtm: true });

  it('RTM (bit 16) with bit 12 passes on a processor with RTM, but not with MOV-SS blocking or another bit', () => {
    expect(guestStateFailure(vmcs({ [F.GUEST_PENDING_DBG_EXCEPTIONS]: 0x11000 }), withRtm)).toBeNull();
    expect(
      guestStateFailure(
        vmcs({ [F.GUEST_PENDING_DBG_EXCEPTIONS]: 0x11000, [F.GUEST_INTERRUPTIBILITY_INFO]: 2 }),
        withRtm,
      )?.reason,
    ).toMatch(/RTM \(bit 16\) needs no blocking by MOV SS/);
    expect(guestStateFailure(vmcs({ [F.GUEST_PENDING_DBG_EXCEPTIONS]: 0x11001 }), withRtm)?.reason).toMatch(
      /bit 12 must be 1 and bits 11:0, 15:13 0/,
    );
    expect(guestStateFailure(vmcs({ [F.GUEST_PENDING_DBG_EXCEPTIONS]: 0x11000 }))?.reason).toMatch(
      /needs RTM, not supported/,
    );
  });

  it('the activity states follow IA32_VMX_MISC bits 8:6', () => {
    const hltOnly = vmxCaps({ ...DEFAULT_VMX_FEATURES, activityStates: ACTIVITY_MISC.HLT });
    const withSipi = vmxCaps({ ...DEFAULT_VMX_FEATURES, activityStates: 7 });
    expect(guestStateFailure(vmcs({ [F.GUEST_ACTIVITY_STATE]: 2 }), hltOnly)?.reason).toMatch(
      /not supported/,
    );
    expect(guestStateFailure(vmcs({ [F.GUEST_ACTIVITY_STATE]: 2 }))).toBeNull();
    expect(guestStateFailure(vmcs({ [F.GUEST_ACTIVITY_STATE]: 3 }), withSipi)).toBeNull();
    expect(
      guestStateFailure(
        vmcs({ [F.GUEST_ACTIVITY_STATE]: 3, [F.VM_ENTRY_INTR_INFO_FIELD]: 0x80000202 }),
        withSipi,
      )?.reason,
    ).toMatch(/wait-for-SIPI activity state nothing can be injected/);
    expect(supportedActivityStates(hltOnly)).toBe(3);
  });
});

describe('SYSENTER MSR fields and descriptor-table registers', () => {
  it.each([
    ['GUEST_SYSENTER_ESP not canonical', ['mov rax, 0xaaaaaaaaaaaaaaaa', 'vmwrite GUEST_SYSENTER_ESP, rax']],
    ['GUEST_SYSENTER_EIP not canonical', ['mov rax, 0x800000000000', 'vmwrite GUEST_SYSENTER_EIP, rax']],
    ['GUEST_GDTR_BASE not canonical', ['mov rax, 0xaaaaaaaaaaaaaaaa', 'vmwrite GUEST_GDTR_BASE, rax']],
    ['GUEST_IDTR_BASE not canonical', ['mov rax, 0x800000000000', 'vmwrite GUEST_IDTR_BASE, rax']],
    ['GUEST_GDTR_LIMIT above 0xffff', ['vmwrite GUEST_GDTR_LIMIT, 0x10000']],
    ['GUEST_IDTR_LIMIT above 0xffff', ['vmwrite GUEST_IDTR_LIMIT, 0x80000fff']],
  ])('fails: %s', (_, setup) => expectFailed(launch(setup)));

  it('passes: canonical SYSENTER and descriptor-table bases, 16-bit limits', () =>
    expectEntered(
      launch([
        'mov rax, 0x7fffffffffff',
        'vmwrite GUEST_SYSENTER_ESP, rax',
        'vmwrite GUEST_SYSENTER_EIP, rax',
        'vmwrite GUEST_GDTR_BASE, rax',
        'vmwrite GUEST_GDTR_LIMIT, 0xffff',
        'vmwrite GUEST_IDTR_LIMIT, 0xffff',
      ]),
    ));
});
