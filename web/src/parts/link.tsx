import type { ComponentChildren } from 'preact';
import { navigate } from '../router.js';

/** A real link (middle click, copy link work) that changes screens without a reload. */
export function Link({ href, children, class: className }: { href: string; children: ComponentChildren; class?: string }) {
  const onClick = (event: MouseEvent): void => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} onClick={onClick} class={className}>
      {children}
    </a>
  );
}
