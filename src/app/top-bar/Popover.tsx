// A button that opens a small panel below it (the drafts, the bookmarks). The panel closes on
// Escape, on a click outside it, or when the button is pressed again; the focus goes back to
// the button, so the step keys work again.
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';

const CloseContext = createContext<() => void>(() => {});

/** Closes the popover the component is in (the focus goes back to its button). */
export function usePopoverClose(): () => void {
  return useContext(CloseContext);
}

export function Popover({
  label,
  title,
  testId,
  className,
  children,
}: {
  label: ReactNode;
  title: string;
  testId: string;
  className?: string;
  /** The panel's content (usePopoverClose closes it). */
  children: ReactNode;
}) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpen(false);
    };
    // Escape closes it wherever the focus is (a field inside keeps its own Escape).
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !e.defaultPrevented) setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('mousedown', onDown);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);

  const close = () => {
    setOpen(false);
    button.current?.focus();
  };
  return (
    <div className={`popover-root${className ? ` ${className}` : ''}`} ref={root}>
      <button
        ref={button}
        type="button"
        className={`btn${open ? ' btn-open' : ''}`}
        title={title}
        aria-expanded={open}
        aria-haspopup="dialog"
        data-testid={testId}
        onClick={() => setOpen(!open)}
      >
        {label}
      </button>
      {open && (
        <div
          className="popover"
          role="dialog"
          aria-label={title}
          data-testid={`${testId.replace(/-button$/, '')}-panel`}
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.preventDefault();
              close();
            }
          }}
        >
          <CloseContext.Provider value={close}>{children}</CloseContext.Provider>
        </div>
      )}
    </div>
  );
}
