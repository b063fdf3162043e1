// @vitest-environment jsdom
// The Trace menu's "Export Perfetto JSON": asks the worker for the file and downloads it as
// SCENARIO.perfetto.json; a failure is shown on the button and changes nothing else.
import { screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkTraceEvents } from '../../src/core/export/trace-event-check';
import { renderApp, resetDomBetweenTests } from './render-app';

resetDomBetweenTests();

let blobs: Blob[] = [];
let downloads: string[] = [];
beforeEach(() => {
  blobs = [];
  downloads = [];
  URL.createObjectURL = vi.fn((b: Blob) => {
    blobs.push(b);
    return `blob:test/${blobs.length}`;
  }) as typeof URL.createObjectURL;
  URL.revokeObjectURL = vi.fn();
  vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
    downloads.push(`${this.download} ${this.href}`);
  });
});
afterEach(() => vi.restoreAllMocks());

describe('Export Perfetto JSON', () => {
  it('downloads the run as SCENARIO.perfetto.json, a valid trace-event file', async () => {
    const { user, client } = await renderApp();
    await user.click(screen.getByTestId('trace-menu'));
    const button = screen.getByTestId('export-perfetto');
    expect(button).toHaveTextContent('Export Perfetto JSON');
    await user.click(button);
    await waitFor(() => expect(downloads).toEqual(['irq-basics.perfetto.json blob:test/1']));
    expect(client.callsOf('perfetto')).toEqual([{ method: 'perfetto', args: ['tsc'] }]);
    expect(blobs[0].type).toBe('application/json');
    const file = JSON.parse(await blobs[0].text());
    expect(checkTraceEvents(file)).toEqual([]);
    expect(file.otherData.scenario).toBe('irq-basics');
    expect(screen.getByTestId('export-perfetto')).not.toBeDisabled();
  });

  it('a failing export says why on the button and downloads nothing', async () => {
    const { user, client, store } = await renderApp();
    vi.spyOn(client, 'perfetto').mockRejectedValue(new Error('worker restarted'));
    const step = store.getState().step;
    await user.click(screen.getByTestId('trace-menu'));
    await user.click(screen.getByTestId('export-perfetto'));
    await waitFor(() =>
      expect(screen.getByTestId('export-perfetto')).toHaveAttribute(
        'title',
        'Export failed: worker restarted',
      ),
    );
    expect(screen.getByTestId('export-perfetto')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByTestId('export-perfetto')).toHaveTextContent(
      'Export Perfetto JSON — Export failed: worker restarted',
    );
    expect(downloads).toEqual([]);
    expect(store.getState().step).toBe(step);
  });
});
