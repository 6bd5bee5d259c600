/*
 * A modal dialog on the native <dialog> element: showModal() keeps focus inside it, Escape closes
 * it, and focus returns to what opened it. Used for every confirmation (never window.confirm, which
 * a keyboard user or a test cannot inspect) and for the reschedule form.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';

export interface DialogProps {
  open: boolean;
  title: string;
  children: ComponentChildren;
  /** Closed without confirming: Escape, or the cancel button. */
  onClose: () => void;
}

export function Dialog({ open, title, children, onClose }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={onClose}>
      <h2 id={titleId}>{title}</h2>
      {open && children}
    </dialog>
  );
}

export interface Confirmation {
  title: string;
  message: string;
  /** The button that does it, e.g. "Delete task". */
  confirm: string;
  danger?: boolean;
}

/** A confirmation dialog and the `ask` that opens it, resolving true when the user confirms. */
export function useConfirm(): [ComponentChildren, (question: Confirmation) => Promise<boolean>] {
  const [question, setQuestion] = useState<Confirmation | null>(null);
  const settle = useRef<(yes: boolean) => void>(() => undefined);
  const answer = (yes: boolean): void => {
    settle.current(yes);
    settle.current = () => undefined;
    setQuestion(null);
  };
  const ask = (next: Confirmation): Promise<boolean> =>
    new Promise((resolve) => {
      settle.current(false);
      settle.current = resolve;
      setQuestion(next);
    });
  const element = (
    <Dialog open={question !== null} title={question?.title ?? ''} onClose={() => answer(false)}>
      <p>{question?.message}</p>
      <div class="actions">
        <button type="button" onClick={() => answer(false)} autofocus>
          Keep it
        </button>
        <button type="button" class={question?.danger ? 'danger' : 'primary'} onClick={() => answer(true)}>
          {question?.confirm}
        </button>
      </div>
    </Dialog>
  );
  return [element, ask];
}
