// @vitest-environment jsdom
// "Save a picture" (Trace menu): the parts and panels on screen it offers, and the file names.
import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { pictureFileName, pictureTargets } from '../../src/app/pictures/picture-targets';
import { renderApp, resetDomBetweenTests } from './render-app';

resetDomBetweenTests();

describe('picture targets', () => {
  it('offers the whole lab, its parts and each level panel on screen, in the Trace menu', async () => {
    const { user } = await renderApp();
    const names = pictureTargets(document).map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'The whole lab',
        'Timeline',
        'Explanation',
        'Program',
        'Assertions',
        'Machine state',
        'Level panel L0',
      ]),
    );
    await user.click(screen.getByTestId('trace-menu'));
    const select = screen.getByTestId('picture-target');
    const options = Array.from(select.querySelectorAll('option')).map((o) => o.textContent);
    expect(options).toEqual(names);
    // The timeline is the first choice.
    expect((select as HTMLSelectElement).selectedOptions[0].textContent).toBe('Timeline');
  });

  it('names an element that asks for it with data-picture, and each VMCS panel by its role', () => {
    document.body.innerHTML =
      '<div data-picture="Counter tracks"></div><section id="vmcs-panel-k1" data-testid="vmcs-vmcs12"></section>';
    expect(pictureTargets(document).map((t) => t.name)).toEqual(['VMCS panel vmcs12', 'Counter tracks']);
  });

  it('makes file names from the scenario, the part and the step', () => {
    expect(pictureFileName('soft-vnmi', 'VMCS panel vmcs01', 12, 'png')).toBe(
      'soft-vnmi-vmcs-panel-vmcs01-step12.png',
    );
    expect(pictureFileName('irq-basics', 'The whole lab', 0, 'svg')).toBe(
      'irq-basics-the-whole-lab-step0.svg',
    );
  });
});
