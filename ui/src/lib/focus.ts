/**
 * Moves the keyboard focus to an element as it appears: a confirmation shown in place of the
 * button that asked for it takes the focus, so that Enter, Enter confirms and Tab reaches
 * Cancel (Svelte action: `use:focusOnMount`).
 */
export function focusOnMount(node: HTMLElement): void {
  node.focus();
}
