// @vitest-environment jsdom
// The control and debug registers in a level's CPU panel (app/level/SystemRegs.tsx), with the
// values the core describes (engine/describe-regs.ts) for a running level.
import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { CpuView } from '../../src/core/engine/view';
import { SystemRegs } from '../../src/app/level/SystemRegs';
import { run } from '../unit/helpers';

const cpuOf = (lines: string[]): CpuView => run(lines).view(run(lines).totalSteps).levels[0].cpu;

describe('control and debug registers', () => {
  it('shows CR0, CR3, CR4 and CR8 as the program left them, and hides DR7/DR6 while unused', () => {
    const cpu = cpuOf(['mov rax, 0x1000', 'mov cr3, rax', 'mov eax, 5', 'mov cr8, rax', 'hlt']);
    render(<SystemRegs cpu={cpu} changed={new Set(['cr3'])} />);
    expect(screen.getByTestId('cr0')).toHaveTextContent('0x80010033');
    expect(screen.getByTestId('cr3')).toHaveTextContent('0x1000');
    expect(screen.getByTestId('cr3')).toHaveAttribute('data-changed', 'true');
    expect(screen.getByTestId('cr4')).toHaveTextContent('0x2020');
    expect(screen.getByTestId('cr8')).toHaveTextContent('0x5');
    expect(screen.queryByTestId('dr7')).toBeNull();
  });

  it('shows DR7 and DR6 once a breakpoint is set', () => {
    const cpu = cpuOf(['mov rax, 0x401', 'mov dr7, rax', 'hlt']);
    render(<SystemRegs cpu={cpu} changed={new Set()} />);
    expect(screen.getByTestId('dr7')).toHaveTextContent('0x401');
    expect(screen.getByTestId('dr6')).toHaveTextContent('0xffff0ff0');
  });
});
