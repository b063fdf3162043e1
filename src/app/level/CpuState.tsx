// A level's CPU: RIP and the next instruction, RFLAGS with IF and TF called out, the
// interruptibility state, activity, pending events, time and handler nesting, then the
// control and debug registers.
import type { CpuView } from '../../core/engine/view';
import { cycles, hex64, hexShort, hexVector } from '../format';
import { Chip, Field, Hex } from './fields';
import type { ChangedFields } from './level-diff';
import { SystemRegs } from './SystemRegs';

const ACTIVITY_HINT: Record<CpuView['activity'], string> = {
  active: 'Executing instructions',
  hlt: 'Halted (HLT): waits for an interrupt or NMI',
  shutdown: 'Shut down after a triple fault',
};

export function CpuState({
  cpu,
  changed,
  nextInstruction,
}: {
  cpu: CpuView;
  changed: ChangedFields;
  nextInstruction: string | null;
}) {
  const nmiNested = cpu.nmiDepth >= 2;
  // Virtual-NMI blocking exists only for a guest (VMX non-root operation).
  const showVnmi = cpu.mode === 'non-root' || cpu.vnmiBlocked;
  return (
    <div className="cpu-state">
      <div className="cpu-row">
        <Field label="RIP" testId="rip" changed={changed.has('rip')}>
          <Hex value={hex64(cpu.rip)} />
        </Field>
        <div className="next-instr mono" data-testid="next-instruction" title="The instruction at RIP">
          {nextInstruction ?? '—'}
        </div>
      </div>

      <div className="cpu-row">
        <Field label="RFLAGS" testId="rflags" changed={changed.has('rflags')}>
          {hexShort(cpu.rflags)}
        </Field>
        <div className="chips" aria-label="RFLAGS flags">
          <Chip
            label="IF"
            text={`IF=${cpu.if ? 1 : 0}`}
            on={cpu.if}
            testId="rflags-if"
            changed={changed.has('if')}
            hint="RFLAGS.IF: maskable interrupts enabled"
          />
          <Chip
            label="TF"
            text={`TF=${cpu.tf ? 1 : 0}`}
            on={cpu.tf}
            testId="rflags-tf"
            changed={changed.has('tf')}
            hint="RFLAGS.TF: single-step trap"
          />
        </div>
        <div className="blocking-group">
          <span className="row-label blocking-label" title="Interruptibility state">
            Blocking
          </span>
          <div className="chips" aria-label="Interruptibility state">
            <Chip
              label="STI"
              on={cpu.interruptibility.sti}
              testId="intr-sti"
              changed={changed.has('sti')}
              hint="Blocking by STI (one instruction after STI)"
            />
            <Chip
              label="MOV-SS"
              on={cpu.interruptibility.movss}
              testId="intr-movss"
              changed={changed.has('movss')}
              hint="Blocking by MOV SS (one instruction after MOV SS / POP SS)"
            />
            <Chip
              label="NMI"
              on={cpu.interruptibility.nmi}
              testId="intr-nmi"
              changed={changed.has('nmi-blocking')}
              hint="Blocking by NMI (from NMI delivery until the next IRET)"
            />
            {showVnmi && (
              <Chip
                label="vNMI"
                on={cpu.vnmiBlocked}
                testId="intr-vnmi"
                changed={changed.has('vnmi-blocking')}
                hint="Virtual-NMI blocking (virtual NMIs = 1): from a virtual NMI's delivery until the guest's IRET"
              />
            )}
          </div>
        </div>
      </div>

      <div className="cpu-grid">
        <Field
          label="Activity"
          testId="activity"
          changed={changed.has('activity')}
          alert={cpu.activity === 'shutdown'}
          hint={ACTIVITY_HINT[cpu.activity]}
        >
          {cpu.activity}
        </Field>
        <Field label="Pending NMI" testId="pending-nmi" changed={changed.has('pending-nmi')}>
          {cpu.pending.nmi ? 'yes' : 'no'}
        </Field>
        <Field
          label="Pending INTR"
          testId="pending-intr"
          changed={changed.has('pending-intr')}
          hint="The interrupt controller's highest pending vector"
        >
          {cpu.pending.intr === null ? 'none' : hexVector(cpu.pending.intr)}
        </Field>
        {(cpu.pendingDebug ?? 0) !== 0 && (
          <Field
            label="Pending #DB"
            testId="pending-db"
            changed={changed.has('pending-db')}
            hint="Debug exceptions pending as a trap (BS 0x4000 single-step, B3–B0 breakpoints, 0x1000 enabled breakpoint), as the VMCS pending-debug-exceptions field holds them"
          >
            {hexShort(cpu.pendingDebug ?? 0)}
          </Field>
        )}
        <Field label="TSC" testId="tsc" changed={changed.has('tsc')}>
          {cycles(cpu.tsc)}
        </Field>
        <Field
          label="Handler depth"
          testId="handler-depth"
          changed={changed.has('handler-depth')}
          hint="Delivered events whose handler has not yet IRETed"
        >
          {cpu.handlerDepth}
        </Field>
        <Field
          label="NMI depth"
          testId="nmi-depth"
          changed={changed.has('nmi-depth')}
          alert={nmiNested}
          hint={
            nmiNested
              ? 'An NMI handler was entered inside another NMI handler: NMIs nested'
              : 'NMI handlers entered and not yet left'
          }
        >
          {cpu.nmiDepth}
          {nmiNested && <span className="alert-tag">nested NMI</span>}
        </Field>
        {cpu.workRemaining > 0 && (
          <Field
            label="Work left"
            testId="work-remaining"
            changed={changed.has('work')}
            hint="Cycles of a `work` still to run"
          >
            {cycles(cpu.workRemaining)}
          </Field>
        )}
      </div>
      <SystemRegs cpu={cpu} changed={changed} />
    </div>
  );
}
