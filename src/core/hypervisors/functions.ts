// The function a hypervisor model's decision record names, whichever model made it: KVM's ids
// are indexes into KVM_FUNCTIONS, Xen's start at XEN_FN_BASE (xen/functions.ts).
import { kvmFunction } from './kvm/functions';
import { isXenFunction, xenFunction } from './xen/functions';

export interface HypervisorFunction {
  name: string;
  file: string;
  /** Whose function it is. */
  hypervisor: 'kvm' | 'xen';
}

export function hypervisorFunction(id: number): HypervisorFunction {
  if (isXenFunction(id)) {
    const f = xenFunction(id);
    return { name: f.name, file: `xen/${f.file}`, hypervisor: 'xen' };
  }
  const f = kvmFunction(id);
  return { name: f.name, file: f.file, hypervisor: 'kvm' };
}
